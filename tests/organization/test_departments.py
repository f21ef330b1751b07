"""Departments (seed 004 sections 6 and 9): CRUD, name search, sort, uniqueness, the
department_in_use rule, renames reaching users, audit, and the cross-module look-ups."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from hms.audit.models import AuditEvent
from hms.core.errors import NotFound, RuleViolation
from hms.core.permissions import Role
from hms.organization import service
from tests.identity.factories import auth_headers, make_user
from tests.organization.factories import make_department

PROBLEM = "application/problem+json"


def assert_problem(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["code"] == code
    assert body["type"].endswith(code)
    return body


@pytest.fixture
async def admin(client, session):
    return await auth_headers(client, session, Role.ADMIN)


async def test_create_read_update_list(client, session, admin):
    resp = await client.post("/api/v1/departments", headers=admin,
                             json={"name": "Cardiology", "description": "Heart"})
    assert resp.status_code == 201, resp.text
    dep = resp.json()
    assert resp.headers["Location"] == f"/api/v1/departments/{dep['id']}"
    assert dep["name"] == "Cardiology" and dep["created_at"] and dep["updated_at"]

    got = await client.get(f"/api/v1/departments/{dep['id']}", headers=admin)
    assert got.status_code == 200 and got.json()["description"] == "Heart"

    upd = await client.put(f"/api/v1/departments/{dep['id']}", headers=admin,
                           json={"description": "Cardiac care"})
    assert upd.status_code == 200
    assert upd.json()["name"] == "Cardiology"  # partial: name kept
    assert upd.json()["description"] == "Cardiac care"
    assert upd.json()["updated_at"] >= dep["updated_at"]

    await make_department(session, "Radiology")
    await make_department(session, "Neurology")
    page = (await client.get("/api/v1/departments", headers=admin,
                             params={"q": "OLOGY", "sort": "-name"})).json()
    names = [d["name"] for d in page["items"]]
    assert names == ["Radiology", "Neurology", "Cardiology"]
    assert page["total"] == 3 and page["page"] == 1

    events = (await session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "department", AuditEvent.entity_id == dep["id"]))).all()
    actions = sorted(e.action for e in events)
    assert actions == ["create", "update"]
    update_event = next(e for e in events if e.action == "update")
    assert update_event.changes == {"before": {"description": "Heart"},
                                    "after": {"description": "Cardiac care"}}


async def test_unknown_sort_is_422(client, admin):
    resp = await client.get("/api/v1/departments", headers=admin, params={"sort": "colour"})
    assert_problem(resp, 422, "validation_error")


async def test_duplicate_name_case_insensitive_is_409(client, session, admin):
    await make_department(session, "Oncology")
    resp = await client.post("/api/v1/departments", headers=admin, json={"name": "ONCOLOGY"})
    assert_problem(resp, 409, "name_taken")


async def test_rename_to_taken_name_is_409(client, session, admin):
    await make_department(session, "Surgery")
    other = await make_department(session, "Dermatology")
    resp = await client.put(f"/api/v1/departments/{other.id}", headers=admin,
                            json={"name": "surgery"})
    assert_problem(resp, 409, "name_taken")


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "x" * 101}, {"name": "a\u0007b"},
                                  {"name": "ok", "colour": "red"}, {}])
async def test_invalid_bodies_are_422(client, admin, body):
    resp = await client.post("/api/v1/departments", headers=admin, json=body)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith(PROBLEM)


async def test_delete_unused_department(client, session, admin):
    dep = await make_department(session)
    resp = await client.delete(f"/api/v1/departments/{dep.id}", headers=admin)
    assert resp.status_code == 204
    assert (await client.get(f"/api/v1/departments/{dep.id}", headers=admin)).status_code == 404
    event = (await session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "department", AuditEvent.action == "delete"))).one()
    assert event.changes["before"]["name"] == dep.name


async def test_delete_department_with_users_is_409_department_in_use(client, session, admin):
    """Rule department_in_use: a department users still belong to is not deleted."""
    dep = await make_department(session, "Pediatrics")
    await make_user(session, Role.NURSE, department_id=dep.id)
    resp = await client.delete(f"/api/v1/departments/{dep.id}", headers=admin)
    body = assert_problem(resp, 409, "department_in_use")
    assert "department_in_use" in body["detail"]
    assert (await client.get(f"/api/v1/departments/{dep.id}", headers=admin)).status_code == 200


async def test_rename_reaches_users_department_name(client, session, admin):
    """Row scoping compares users.department (a name): a rename keeps it in step."""
    dep = await make_department(session, "Ortho")
    nurse = await make_user(session, Role.NURSE, department_id=dep.id)
    assert nurse.department == "Ortho"
    resp = await client.put(f"/api/v1/departments/{dep.id}", headers=admin,
                            json={"name": "Orthopedics"})
    assert resp.status_code == 200
    user = (await client.get(f"/api/v1/users/{nurse.id}", headers=admin)).json()
    assert user["department"] == "Orthopedics" and user["department_id"] == str(dep.id)


async def test_missing_department_is_404(client, admin):
    resp = await client.get(f"/api/v1/departments/{uuid.uuid4()}", headers=admin)
    assert_problem(resp, 404, "not_found")
    resp = await client.put(f"/api/v1/departments/{uuid.uuid4()}", headers=admin,
                            json={"name": "x"})
    assert_problem(resp, 404, "not_found")


async def test_every_signed_in_role_reads_only_admins_write(client, session):
    nurse = await auth_headers(client, session, Role.NURSE)
    assert (await client.get("/api/v1/departments", headers=nurse)).status_code == 200
    resp = await client.post("/api/v1/departments", headers=nurse, json={"name": "X"})
    assert_problem(resp, 403, "forbidden")
    assert (await client.get("/api/v1/departments")).status_code == 401


async def test_cross_module_lookups(session):
    a = await make_department(session, "A-dep")
    b = await make_department(session, "B-dep")
    assert (await service.get_department(session, a.id)).name == "A-dep"
    with pytest.raises(NotFound):
        await service.get_department(session, uuid.uuid4())
    assert (await service.require_department(session, b.id)).id == b.id
    with pytest.raises(RuleViolation) as exc:
        await service.require_department(session, uuid.uuid4(), field="dept")
    assert exc.value.code == "department_not_found"
    assert exc.value.errors and exc.value.errors[0]["field"] == "dept"
    found = await service.departments_by_ids(session, [a.id, b.id, None, uuid.uuid4()])
    assert set(found) == {a.id, b.id}
    assert await service.departments_by_ids(session, []) == {}
    assert (await service.department_by_name(session, "a-DEP")).id == a.id
