"""Permission scopes (``visit:read:department``, ``:own``; ``patient:read:department``) are
enforced in the queries: a record outside the caller's scope is not found (404, the same
answer as a record that does not exist) and never listed or counted.

The default roles read at ``:all`` (nothing changes for the visit archive); each test
narrows a role through the admin API, as a hospital would.

Source: HMS seed 003 section 4.3 (``patients:read:department``); STYLE.md section 6;
OWASP API Security Top 10 2023, API1 (broken object level authorization).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from hms.core.permissions import Role, default_grants
from tests.documents.factories import make_pdf, upload
from tests.forms.factories import nursing_body, radiology_body
from tests.identity.factories import login, make_user
from tests.patients.factories import make_patient
from tests.visits.factories import make_visit

PROBLEM = "application/problem+json"


def scoped_grants(role: Role, scope: str) -> list[str]:
    """``role``'s default permission strings with visit and patient reads at ``scope``."""
    narrowed = {"visit:read:all": f"visit:read:{scope}",
                "patient:read:all": f"patient:read:{scope}"}
    return [narrowed.get(g, g) for g in default_grants(role)]


async def narrow(client, admin: dict[str, str], role: Role, scope: str) -> None:
    """Set ``role``'s reads to ``scope`` through the admin API."""
    resp = await client.put(f"/api/v1/admin/roles/{role.value}/permissions", headers=admin,
                            json={"permissions": scoped_grants(role, scope)})
    assert resp.status_code == 200, resp.text


async def headers_for(client, session, role: Role, **overrides) -> tuple[dict[str, str], uuid.UUID]:
    user = await make_user(session, role, **overrides)
    tokens = await login(client, user.username)
    return {"Authorization": f"Bearer {tokens['access_token']}"}, user.id


@dataclass
class Hospital:
    """Two departments' worth of records, written by an (unscoped) super admin."""

    admin: dict[str, str]
    cardio_patient: object
    radio_patient: object
    both_patient: object
    cardio_visit: uuid.UUID
    radio_visit: uuid.UUID
    both_cardio_visit: uuid.UUID
    both_radio_visit: uuid.UUID
    cardio_document: str
    radio_document: str


@pytest.fixture
async def hospital(client, session) -> Hospital:
    admin, _ = await headers_for(client, session, Role.SUPER_ADMIN)
    cardio_patient = await make_patient(session, full_name="Zebedee Cardio Person")
    radio_patient = await make_patient(session, full_name="Zebedee Radio Person")
    both_patient = await make_patient(session, full_name="Zebedee Both Person")
    cardio = await make_visit(session, cardio_patient.id, department="Cardiology")
    radio = await make_visit(session, radio_patient.id, department="Radiology")
    both_cardio = await make_visit(session, both_patient.id, department="cardiology")
    both_radio = await make_visit(session, both_patient.id, department="Radiology")
    docs = {}
    for visit in (cardio, radio):
        resp = await client.post(f"/api/v1/visits/{visit.id}/nursing-assessment",
                                 headers=admin, json=nursing_body())
        assert resp.status_code == 201, resp.text
        resp = await client.post(f"/api/v1/visits/{visit.id}/radiology-assessment",
                                 headers=admin, json=radiology_body())
        assert resp.status_code == 201, resp.text
        resp = await upload(client, visit.id, admin, make_pdf())
        assert resp.status_code == 201, resp.text
        docs[visit.id] = resp.json()["id"]
    return Hospital(admin, cardio_patient, radio_patient, both_patient, cardio.id, radio.id,
                    both_cardio.id, both_radio.id, docs[cardio.id], docs[radio.id])


def _not_found(resp) -> None:
    assert resp.status_code == 404, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)


class TestVisitsByDepartment:
    async def test_list_shows_only_the_users_department(self, client, session, hospital):
        await narrow(client, hospital.admin, Role.PHYSICIAN, "department")
        physician, _ = await headers_for(client, session, Role.PHYSICIAN,
                                         department="CARDIOLOGY")
        resp = await client.get("/api/v1/visits", headers=physician)
        assert resp.status_code == 200
        ids = {v["id"] for v in resp.json()["items"]}
        assert ids == {str(hospital.cardio_visit), str(hospital.both_cardio_visit)}
        assert resp.json()["total"] == 2
        # Filters cannot widen the scope.
        resp = await client.get("/api/v1/visits", headers=physician,
                                params={"department": "Radiology"})
        assert resp.json() == {"items": [], "total": 0, "page": 1, "page_size": 20,
                           "total_exact": True}

    async def test_other_departments_visit_is_404_on_every_visit_route(
        self, client, session, hospital,
    ):
        await narrow(client, hospital.admin, Role.PHYSICIAN, "department")
        physician, _ = await headers_for(client, session, Role.PHYSICIAN,
                                         department="Cardiology")
        for visit_id, visible in ((hospital.radio_visit, False),
                                  (hospital.cardio_visit, True)):
            base = f"/api/v1/visits/{visit_id}"
            calls = [
                client.get(base, headers=physician),
                client.get(f"{base}/nursing-assessment", headers=physician),
                client.get(f"{base}/radiology-assessment", headers=physician),
                client.get(f"{base}/documents", headers=physician),
                client.post(f"{base}/radiology-assessment", headers=physician,
                            json=radiology_body()),
                client.put(base, headers=physician, json={"notes": "Seen.", "version": 1}),
            ]
            for call in calls:
                resp = await call
                if visible:
                    assert resp.status_code in (200, 201), resp.text
                else:
                    _not_found(resp)

    async def test_out_of_scope_looks_exactly_like_missing(self, client, session, hospital):
        await narrow(client, hospital.admin, Role.PHYSICIAN, "department")
        physician, _ = await headers_for(client, session, Role.PHYSICIAN,
                                         department="Cardiology")
        hidden = await client.get(f"/api/v1/visits/{hospital.radio_visit}", headers=physician)
        missing = await client.get(f"/api/v1/visits/{uuid.uuid4()}", headers=physician)
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["detail"] == missing.json()["detail"]

    async def test_documents_of_another_department_are_404(self, client, session, hospital):
        await narrow(client, hospital.admin, Role.PHYSICIAN, "department")
        physician, _ = await headers_for(client, session, Role.PHYSICIAN,
                                         department="Cardiology")
        for suffix in ("", "/download"):
            _not_found(await client.get(
                f"/api/v1/documents/{hospital.radio_document}{suffix}", headers=physician))
            resp = await client.get(f"/api/v1/documents/{hospital.cardio_document}{suffix}",
                                    headers=physician)
            assert resp.status_code == 200, resp.text

    async def test_user_without_department_reaches_nothing(self, client, session, hospital):
        await narrow(client, hospital.admin, Role.PHYSICIAN, "department")
        physician, _ = await headers_for(client, session, Role.PHYSICIAN)
        resp = await client.get("/api/v1/visits", headers=physician)
        assert resp.json()["total"] == 0
        _not_found(await client.get(f"/api/v1/visits/{hospital.cardio_visit}",
                                    headers=physician))

    async def test_default_roles_still_see_every_department(self, client, session, hospital):
        physician, _ = await headers_for(client, session, Role.PHYSICIAN,
                                         department="Cardiology")
        resp = await client.get("/api/v1/visits", headers=physician)
        assert resp.json()["total"] == 4
        resp = await client.get(f"/api/v1/visits/{hospital.radio_visit}", headers=physician)
        assert resp.status_code == 200


class TestOwnVisits:
    async def test_own_scope_reaches_attended_and_opened_visits_only(
        self, client, session, hospital,
    ):
        await narrow(client, hospital.admin, Role.PHYSICIAN, "own")
        physician, me = await headers_for(client, session, Role.PHYSICIAN,
                                          department="Radiology")
        attended = await make_visit(session, hospital.radio_patient.id,
                                    department="Radiology", attending_physician_id=me)
        opened = await make_visit(session, hospital.cardio_patient.id,
                                  department="Cardiology", opened_by=me)
        resp = await client.get("/api/v1/visits", headers=physician)
        assert {v["id"] for v in resp.json()["items"]} == {str(attended.id), str(opened.id)}
        # Same department but not theirs: out of an :own scope.
        _not_found(await client.get(f"/api/v1/visits/{hospital.radio_visit}",
                                    headers=physician))
        resp = await client.get(f"/api/v1/visits/{attended.id}/nursing-assessment",
                                headers=physician)
        assert resp.status_code == 404 and resp.json()["code"] == "form_not_found"
        # patient:read:own: patients with a visit of theirs.
        assert (await client.get(f"/api/v1/patients/{hospital.radio_patient.id}",
                                 headers=physician)).status_code == 200
        _not_found(await client.get(f"/api/v1/patients/{hospital.both_patient.id}",
                                    headers=physician))

    async def test_own_and_department_together_reach_both(self, client, session, hospital):
        grants = [*scoped_grants(Role.PHYSICIAN, "own"), "visit:read:department"]
        resp = await client.put("/api/v1/admin/roles/physician/permissions",
                                headers=hospital.admin, json={"permissions": grants})
        assert resp.status_code == 200
        physician, me = await headers_for(client, session, Role.PHYSICIAN,
                                          department="Radiology")
        attended = await make_visit(session, hospital.cardio_patient.id,
                                    department="Cardiology", attending_physician_id=me)
        resp = await client.get("/api/v1/visits", headers=physician)
        assert {v["id"] for v in resp.json()["items"]} == {
            str(attended.id), str(hospital.radio_visit), str(hospital.both_radio_visit)}


class TestPatientsByDepartment:
    async def test_patient_without_a_visit_in_the_department_is_404(
        self, client, session, hospital,
    ):
        await narrow(client, hospital.admin, Role.PHYSICIAN, "department")
        physician, _ = await headers_for(client, session, Role.PHYSICIAN,
                                         department="Cardiology")
        other = hospital.radio_patient
        for ref in (other.id, other.patient_number, other.national_id):
            _not_found(await client.get(f"/api/v1/patients/{ref}", headers=physician))
            _not_found(await client.get(f"/api/v1/patients/{ref}/history",
                                        headers=physician))
        for ref in (hospital.cardio_patient.id, hospital.both_patient.patient_number):
            resp = await client.get(f"/api/v1/patients/{ref}", headers=physician)
            assert resp.status_code == 200, resp.text

    async def test_search_neither_returns_nor_counts_other_patients(
        self, client, session, hospital,
    ):
        await narrow(client, hospital.admin, Role.PHYSICIAN, "department")
        physician, _ = await headers_for(client, session, Role.PHYSICIAN,
                                         department="Cardiology")
        resp = await client.get("/api/v1/patients/search", headers=physician,
                                params={"name": "Zebedee"})
        assert resp.status_code == 200
        assert {p["id"] for p in resp.json()["items"]} == {
            str(hospital.cardio_patient.id), str(hospital.both_patient.id)}
        assert resp.json()["total"] == 2
        resp = await client.get("/api/v1/patients/search", headers=physician,
                                params={"medical_number": hospital.radio_patient.patient_number})
        assert resp.json()["total"] == 0

    async def test_history_lists_only_the_departments_visits(self, client, session, hospital):
        await narrow(client, hospital.admin, Role.PHYSICIAN, "department")
        physician, _ = await headers_for(client, session, Role.PHYSICIAN,
                                         department="Cardiology")
        resp = await client.get(f"/api/v1/patients/{hospital.both_patient.id}/history",
                                headers=physician)
        assert resp.status_code == 200
        assert [v["id"] for v in resp.json()["visits"]] == [str(hospital.both_cardio_visit)]
        assert resp.json()["total_visits"] == 1

    async def test_visit_list_filter_by_hidden_patient_is_404(self, client, session, hospital):
        await narrow(client, hospital.admin, Role.PHYSICIAN, "department")
        physician, _ = await headers_for(client, session, Role.PHYSICIAN,
                                         department="Cardiology")
        resp = await client.get("/api/v1/visits", headers=physician,
                                params={"patient": str(hospital.radio_patient.id)})
        _not_found(resp)


class TestNurseGuessingVisitIds:
    """IDOR: a department-scoped nurse with another department's visit UUID in the forms
    and documents routes reads and writes nothing."""

    async def test_forms_and_documents_of_another_department(self, client, session,
                                                            hospital, settings):
        await narrow(client, hospital.admin, Role.NURSE, "department")
        nurse, _ = await headers_for(client, session, Role.NURSE, department="Cardiology")
        other = f"/api/v1/visits/{hospital.radio_visit}"
        _not_found(await client.get(f"{other}/nursing-assessment", headers=nurse))
        _not_found(await client.put(f"{other}/nursing-assessment", headers=nurse,
                                    json={**nursing_body(), "version": 1}))
        _not_found(await client.get(f"{other}/documents", headers=nurse))
        _not_found(await upload(client, hospital.radio_visit, nurse, make_pdf()))
        _not_found(await client.get(f"/api/v1/documents/{hospital.radio_document}",
                                    headers=nurse))
        # Nothing was written: the admin still sees one document and the form at version 1.
        docs = await client.get(f"{other}/documents", headers=hospital.admin)
        assert docs.json()["total"] == 1
        form = await client.get(f"{other}/nursing-assessment", headers=hospital.admin)
        assert form.json()["submission"]["version"] == 1

    async def test_own_departments_visit_works_as_before(self, client, session, hospital):
        await narrow(client, hospital.admin, Role.NURSE, "department")
        nurse, _ = await headers_for(client, session, Role.NURSE, department="Cardiology")
        own = f"/api/v1/visits/{hospital.both_cardio_visit}"
        resp = await client.post(f"{own}/nursing-assessment", headers=nurse,
                                 json=nursing_body())
        assert resp.status_code == 201, resp.text
        resp = await upload(client, hospital.both_cardio_visit, nurse, make_pdf())
        assert resp.status_code == 201, resp.text
