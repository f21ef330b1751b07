"""The service catalogue over HTTP: create, list with filters and sort, read, update,
deactivate (soft delete)."""

from __future__ import annotations

from hms.audit import service as audit
from hms.core.permissions import Role
from tests.billing.factories import make_service
from tests.identity.factories import auth_headers
from tests.organization.factories import make_department

PROBLEM = "application/problem+json"


class TestCreateService:
    async def test_admin_adds_service_with_seed_labels(self, client, session):
        h = await auth_headers(client, session, Role.ADMIN)
        department = await make_department(session)
        resp = await client.post("/api/v1/services", headers=h, json={
            "name": "General consultation", "service_type": "CONSULTATION",
            "default_price": 150.5, "default_duration_minutes": 30,
            "department_id": str(department.id)})
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["service_type"] == "consultation"
        assert body["default_price"] == "150.50"
        assert body["is_active"] is True
        assert resp.headers["location"] == f"/api/v1/services/{body['id']}"
        assert await audit.count_events(session, action="create", entity_type="service",
                                        entity_id=body["id"]) == 1

    async def test_price_must_be_positive_with_two_decimals(self, client, session):
        h = await auth_headers(client, session, Role.ADMIN)
        for price in ("0", "-5.00", "10.005", "abc", "1e20"):
            resp = await client.post("/api/v1/services", headers=h, json={
                "name": "X-ray", "service_type": "imaging", "default_price": price})
            assert resp.status_code == 422, price
            assert resp.headers["content-type"].startswith(PROBLEM)
            assert resp.json()["errors"][0]["field"] == "default_price"

    async def test_unknown_type_and_department_are_422(self, client, session):
        import uuid

        h = await auth_headers(client, session, Role.ADMIN)
        bad_type = await client.post("/api/v1/services", headers=h, json={
            "name": "X", "service_type": "massage", "default_price": "1.00"})
        assert bad_type.status_code == 422
        bad_dept = await client.post("/api/v1/services", headers=h, json={
            "name": "X", "service_type": "other", "default_price": "1.00",
            "department_id": str(uuid.uuid4())})
        assert bad_dept.status_code == 422
        assert bad_dept.headers["content-type"].startswith(PROBLEM)

    async def test_billing_officer_reads_but_cannot_configure(self, client, session):
        h = await auth_headers(client, session, Role.BILLING_OFFICER)
        resp = await client.post("/api/v1/services", headers=h, json={
            "name": "X", "service_type": "other", "default_price": "1.00"})
        assert resp.status_code == 403
        assert (await client.get("/api/v1/services", headers=h)).status_code == 200

    async def test_clinical_and_front_desk_roles_get_403(self, client, session):
        for role in (Role.PHYSICIAN, Role.NURSE, Role.RECEPTIONIST):
            h = await auth_headers(client, session, role)
            assert (await client.get("/api/v1/services", headers=h)).status_code == 403


class TestListServices:
    async def test_filters_and_sort(self, client, session):
        cheap = await make_service(session, name="Blood draw", service_type="lab_test",
                                   default_price="15.00")
        dear = await make_service(session, name="Blood panel", service_type="lab_test",
                                  default_price="85.00")
        await make_service(session, name="Chest X-ray", service_type="imaging",
                           default_price="60.00")
        off = await make_service(session, name="Blood bank", service_type="lab_test",
                                 default_price="5.00", is_active=False)
        h = await auth_headers(client, session, Role.BILLING_OFFICER)
        resp = await client.get("/api/v1/services", headers=h, params={
            "q": "BLOOD", "service_type": "lab_test", "is_active": "true",
            "sort": "-default_price"})
        assert resp.status_code == 200
        body = resp.json()
        assert [s["id"] for s in body["items"]] == [str(dear.id), str(cheap.id)]
        assert body["total"] == 2
        inactive = await client.get("/api/v1/services", headers=h,
                                    params={"is_active": "false"})
        assert [s["id"] for s in inactive.json()["items"]] == [str(off.id)]

    async def test_bad_sort_and_filters_are_422(self, client, session):
        h = await auth_headers(client, session, Role.BILLING_OFFICER)
        for params in ({"sort": "password"}, {"service_type": "spa"}, {"page_size": 500}):
            resp = await client.get("/api/v1/services", headers=h, params=params)
            assert resp.status_code == 422, params
            assert resp.headers["content-type"].startswith(PROBLEM)


class TestUpdateAndDeactivate:
    async def test_update_records_old_and_new_values(self, client, session):
        svc = await make_service(session, default_price="100.00")
        h = await auth_headers(client, session, Role.ADMIN)
        resp = await client.put(f"/api/v1/services/{svc.id}", headers=h,
                                json={"default_price": "120.00", "name": "Renamed"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["default_price"] == "120.00"
        events = await audit.list_events(session, entity_type="service",
                                         entity_id=str(svc.id), action="update")
        assert events[0].changes == {"before": {"name": svc.name, "default_price": "100.00"},
                                     "after": {"name": "Renamed", "default_price": "120.00"}}

    async def test_null_for_required_field_is_422(self, client, session):
        svc = await make_service(session)
        h = await auth_headers(client, session, Role.ADMIN)
        resp = await client.put(f"/api/v1/services/{svc.id}", headers=h,
                                json={"default_price": None})
        assert resp.status_code == 422

    async def test_delete_deactivates_and_row_stays(self, client, session):
        svc = await make_service(session)
        h = await auth_headers(client, session, Role.ADMIN)
        resp = await client.delete(f"/api/v1/services/{svc.id}", headers=h)
        assert resp.status_code == 200
        assert resp.json()["is_active"] is False
        got = await client.get(f"/api/v1/services/{svc.id}", headers=h)
        assert got.status_code == 200 and got.json()["is_active"] is False
        assert await audit.count_events(session, action="deactivate",
                                        entity_id=str(svc.id)) == 1

    async def test_unknown_service_is_404(self, client, session):
        import uuid

        h = await auth_headers(client, session, Role.ADMIN)
        resp = await client.get(f"/api/v1/services/{uuid.uuid4()}", headers=h)
        assert resp.status_code == 404
        assert resp.headers["content-type"].startswith(PROBLEM)
