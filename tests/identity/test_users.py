"""Seed 004 ``/users`` (sections 6, 9, 11, 12): accounts created by email with seed role
labels, the staff directory with filters and sort, details with the department, partial
updates, deactivation instead of delete, login by email, and the cross-module look-ups."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, select

from hms.audit.models import AuditEvent
from hms.core.errors import RuleViolation
from hms.core.permissions import Role
from hms.identity import service
from tests.identity.factories import PASSWORD, auth_headers, login, make_doctor, make_user
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


def seed_user(**overrides):
    body = {"email": "Jane.Roe@Clinic.example", "password": PASSWORD, "first_name": "Jane",
            "last_name": "Roe", "role": "DOCTOR", "phone": "+20 100 555 0101"}
    body.update(overrides)
    return body


async def test_create_by_email_with_seed_fields(client, session, admin):
    dep = await make_department(session, "Cardiology")
    resp = await client.post("/api/v1/users", headers=admin,
                             json=seed_user(department_id=str(dep.id)))
    assert resp.status_code == 201, resp.text
    user = resp.json()
    assert resp.headers["Location"] == f"/api/v1/users/{user['id']}"
    assert user["username"] == "jane.roe@clinic.example"
    assert user["email"] == "jane.roe@clinic.example"
    assert user["role"] == "physician"
    assert (user["first_name"], user["last_name"], user["full_name"]) == (
        "Jane", "Roe", "Jane Roe")
    assert user["phone"] == "+20 100 555 0101"
    assert user["department_id"] == str(dep.id) and user["department"] == "Cardiology"
    assert user["is_active"] is True and "password_hash" not in user
    event_ = (await session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "user", AuditEvent.entity_id == user["id"]))).one()
    assert event_.action == "create"
    assert event_.changes["after"]["department_id"] == str(dep.id)
    assert "password" not in str(event_.changes)


@pytest.mark.parametrize(("label", "role"), [
    ("DOCTOR", "physician"), ("doctor", "physician"), ("ADMINISTRATOR", "admin"),
    ("administrator", "admin"), ("NURSE", "nurse"), ("Receptionist", "receptionist"),
    ("BILLING_OFFICER", "billing_officer"), ("billing_officer", "billing_officer"),
])
async def test_seed_role_labels(client, admin, label, role):
    resp = await client.post("/api/v1/users", headers=admin,
                             json=seed_user(email=f"{uuid.uuid4().hex[:8]}@x.example",
                                            role=label))
    assert resp.status_code == 201, resp.text
    assert resp.json()["role"] == role


async def test_unknown_role_is_422(client, admin):
    resp = await client.post("/api/v1/users", headers=admin, json=seed_user(role="janitor"))
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith(PROBLEM)


async def test_email_taken_is_409_case_insensitive(client, session, admin):
    """Rule email_taken (seed 004 11 "User email addresses must be unique")."""
    await make_user(session, Role.NURSE, username="nurse.one", email="dup@clinic.example")
    resp = await client.post("/api/v1/users", headers=admin,
                             json=seed_user(email="DUP@Clinic.Example"))
    assert_problem(resp, 409, "email_taken")
    other = await make_user(session, Role.NURSE, email="other@clinic.example")
    resp = await client.put(f"/api/v1/users/{other.id}", headers=admin,
                            json={"email": "Dup@clinic.example"})
    assert_problem(resp, 409, "email_taken")


async def test_username_taken_is_409(client, session, admin):
    await make_user(session, Role.NURSE, username="samesame")
    resp = await client.post("/api/v1/users", headers=admin,
                             json=seed_user(username="samesame", email="n@x.example"))
    assert_problem(resp, 409, "username_taken")


@pytest.mark.parametrize("body", [
    seed_user(email="not-an-email"),                     # seed 004 12 email format
    seed_user(email=None),                               # neither username nor email
    seed_user(phone="call me maybe"),                    # phone format
    seed_user(first_name="x" * 101),                     # bounded lengths
    seed_user(first_name="a\u0001b"),                    # no control characters
    seed_user(colour="red"),                             # unknown field
    seed_user(password="short"),                         # password policy
])
async def test_invalid_create_is_422(client, admin, body):
    resp = await client.post("/api/v1/users", headers=admin, json=body)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)


async def test_unknown_department_is_422(client, admin):
    resp = await client.post("/api/v1/users", headers=admin,
                             json=seed_user(department_id=str(uuid.uuid4())))
    body = assert_problem(resp, 422, "department_not_found")
    assert body["errors"][0]["field"] == "department_id"


async def test_department_name_links_existing_department(client, session, admin):
    dep = await make_department(session, "Radiology")
    resp = await client.post("/api/v1/users", headers=admin,
                             json=seed_user(department="radiology"))
    assert resp.status_code == 201
    assert resp.json()["department_id"] == str(dep.id)
    assert resp.json()["department"] == "Radiology"


async def test_login_by_email_form_and_json(client, admin):
    resp = await client.post("/api/v1/users", headers=admin,
                             json=seed_user(email="login.me@clinic.example"))
    assert resp.status_code == 201
    tokens = await login(client, "LOGIN.ME@clinic.example")
    assert tokens["access_token"]
    resp = await client.post("/api/v1/auth/login", json={"email": "login.me@clinic.example",
                                                          "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    resp = await client.post("/api/v1/auth/login", data={"email": "login.me@clinic.example",
                                                          "password": PASSWORD})
    assert resp.status_code == 200, resp.text


async def test_directory_filters_and_sort(client, session, admin):
    cardio = await make_department(session, "Cardio")
    neuro = await make_department(session, "Neuro")
    a = await make_doctor(session, first_name="Amal", last_name="Zaki", department_id=cardio.id)
    b = await make_doctor(session, first_name="Badr", last_name="Yousef",
                          department_id=cardio.id)
    c = await make_user(session, Role.NURSE, first_name="Carla", last_name="Xu",
                        department_id=neuro.id)
    await client.delete(f"/api/v1/users/{b.id}", headers=admin)
    nurse = await auth_headers(client, session, Role.NURSE)

    async def ids(**params):
        resp = await client.get("/api/v1/users", headers=nurse, params=params)
        assert resp.status_code == 200, resp.text
        return [u["id"] for u in resp.json()["items"]]

    assert await ids(department_id=str(cardio.id), sort="last_name") == [str(b.id), str(a.id)]
    assert await ids(department_id=str(cardio.id), is_active="true") == [str(a.id)]
    assert await ids(role="DOCTOR", department_id=str(cardio.id), sort="-first_name") == [
        str(b.id), str(a.id)]
    assert await ids(q="carl") == [str(c.id)]
    assert await ids(q="zaki") == [str(a.id)]
    resp = await client.get("/api/v1/users", headers=nurse, params={"sort": "password_hash"})
    assert_problem(resp, 422, "validation_error")


async def test_get_and_details_with_department(client, session, admin, db):
    dep = await make_department(session, "Oncology", description="Cancer care")
    doc = await make_doctor(session, department_id=dep.id)
    nobody = await make_doctor(session)
    resp = await client.get(f"/api/v1/users/{doc.id}", headers=admin)
    assert resp.status_code == 200 and resp.json()["department_id"] == str(dep.id)

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "after_cursor_execute", count)
    try:
        resp = await client.get(f"/api/v1/users/{doc.id}/details", headers=admin)
        with_department = len(statements)
        statements.clear()
        resp_none = await client.get(f"/api/v1/users/{nobody.id}/details", headers=admin)
        without_department = len(statements)
    finally:
        event.remove(engine, "after_cursor_execute", count)
    assert resp.status_code == 200
    detail = resp.json()["department_detail"]
    assert detail == {"id": str(dep.id), "name": "Oncology", "description": "Cancer care"}
    assert resp_none.json()["department_detail"] is None
    # The department comes in one batched query: at most one statement more than none.
    assert with_department <= without_department + 1
    resp = await client.get(f"/api/v1/users/{uuid.uuid4()}/details", headers=admin)
    assert_problem(resp, 404, "not_found")


async def test_partial_update_is_audited(client, session, admin):
    dep = await make_department(session, "ICU")
    user = await make_user(session, Role.NURSE, first_name="Nour", last_name="Ali",
                           phone="0100 000 0000")
    before = (await client.get(f"/api/v1/users/{user.id}", headers=admin)).json()
    resp = await client.put(f"/api/v1/users/{user.id}", headers=admin,
                            json={"phone": "0111 111 1111", "department_id": str(dep.id),
                                  "last_name": "Hassan"})
    assert resp.status_code == 200, resp.text
    after = resp.json()
    assert after["phone"] == "0111 111 1111" and after["first_name"] == "Nour"
    assert after["full_name"] == "Nour Hassan"
    assert after["department"] == "ICU" and after["department_id"] == str(dep.id)
    assert after["updated_at"] >= before["updated_at"]
    ev = (await session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "user", AuditEvent.entity_id == str(user.id),
        AuditEvent.action == "update"))).one()
    assert ev.changes["before"]["phone"] == "0100 000 0000"
    assert ev.changes["after"]["phone"] == "0111 111 1111"
    assert ev.changes["after"]["department"] == "ICU"
    cleared = await client.put(f"/api/v1/users/{user.id}", headers=admin,
                               json={"department_id": None})
    assert cleared.json()["department_id"] is None and cleared.json()["department"] is None


async def test_delete_deactivates_and_revokes_sessions(client, session, admin):
    user = await make_user(session, Role.RECEPTIONIST)
    token = (await login(client, user.username))["access_token"]
    own = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/auth/me", headers=own)).status_code == 200
    resp = await client.delete(f"/api/v1/users/{user.id}", headers=admin)
    assert resp.status_code == 200, resp.text
    assert resp.json()["is_active"] is False
    assert (await client.get("/api/v1/auth/me", headers=own)).status_code == 401
    # Never a hard delete: the row is still there.
    still = await client.get(f"/api/v1/users/{user.id}", headers=admin)
    assert still.status_code == 200 and still.json()["is_active"] is False
    resp = await client.post("/api/v1/auth/login",
                             data={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 401
    ev = (await session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "user", AuditEvent.entity_id == str(user.id),
        AuditEvent.action == "deactivate"))).one()
    assert ev.changes["after"]["is_active"] is False
    # Idempotent.
    assert (await client.delete(f"/api/v1/users/{user.id}", headers=admin)).status_code == 200


async def test_cannot_deactivate_self(client, session):
    me = await make_user(session, Role.ADMIN)
    headers = {"Authorization": "Bearer " + (await login(client, me.username))["access_token"]}
    resp = await client.delete(f"/api/v1/users/{me.id}", headers=headers)
    assert_problem(resp, 409, "cannot_deactivate_self")


async def test_directory_permissions(client, session):
    lab = await auth_headers(client, session, Role.LAB_TECHNICIAN)
    assert_problem(await client.get("/api/v1/users", headers=lab), 403, "forbidden")
    billing = await auth_headers(client, session, Role.BILLING_OFFICER)
    assert (await client.get("/api/v1/users", headers=billing)).status_code == 200
    resp = await client.post("/api/v1/users", headers=billing, json=seed_user())
    assert_problem(resp, 403, "forbidden")
    doctor = await auth_headers(client, session, Role.PHYSICIAN)
    some = await make_user(session, Role.NURSE)
    resp = await client.put(f"/api/v1/users/{some.id}", headers=doctor, json={"phone": "123"})
    assert_problem(resp, 403, "forbidden")


async def test_admin_alias_routes_share_the_handlers(client, session, admin):
    resp = await client.post("/api/v1/admin/users", headers=admin,
                             json=seed_user(email="alias@clinic.example"))
    assert resp.status_code == 201 and resp.json()["username"] == "alias@clinic.example"
    listed = await client.get("/api/v1/admin/users", headers=admin,
                              params={"q": "alias@"})
    assert [u["email"] for u in listed.json()["items"]] == ["alias@clinic.example"]


async def test_require_active_doctor(session):
    doctor = await make_doctor(session)
    assert (await service.require_active_doctor(session, doctor.id)).id == doctor.id
    nurse = await make_user(session, Role.NURSE)
    retired = await make_doctor(session)
    await service.update_user(session, retired.id,
                              service.UserUpdate(is_active=False))  # type: ignore[attr-defined]
    for user_id, why in ((uuid.uuid4(), "unknown"), (nurse.id, "not a doctor"),
                         (retired.id, "deactivated")):
        with pytest.raises(RuleViolation) as exc:
            await service.require_active_doctor(session, user_id, field="doctor")
        assert exc.value.code == "doctor_not_active"
        assert exc.value.errors and exc.value.errors[0]["field"] == "doctor"
        assert why in exc.value.detail


async def test_users_by_ids(session):
    a = await make_doctor(session)
    b = await make_user(session, Role.NURSE)
    found = await service.users_by_ids(session, [a.id, b.id, None, uuid.uuid4()])
    assert set(found) == {a.id, b.id}
    assert found[a.id].first_name == "Dana"
    assert await service.users_by_ids(session, []) == {}


async def test_staff_directory_hides_account_security_state(client, session):
    """A receptionist looking up doctors sees names, role and department, not whether an
    account is locked, has MFA or when it last logged in (user:manage only)."""
    from hms.core.permissions import Role
    from tests.identity.factories import auth_headers, make_user

    doctor = await make_user(session, Role.PHYSICIAN)
    desk = await auth_headers(client, session, Role.RECEPTIONIST)
    admin = await auth_headers(client, session, Role.ADMIN)
    for url in (f"/api/v1/users/{doctor.id}", f"/api/v1/users/{doctor.id}/details"):
        seen = (await client.get(url, headers=desk)).json()
        assert seen["username"] == doctor.username and seen["role"] == "physician"
        assert seen["must_change_password"] is None and seen["mfa_enabled"] is None
        assert seen["last_login_at"] is None and seen["locked_until"] is None
        managed = (await client.get(url, headers=admin)).json()
        assert managed["must_change_password"] is False and managed["mfa_enabled"] is False
    listed = (await client.get("/api/v1/users", headers=desk,
                               params={"role": "physician"})).json()["items"]
    assert listed and all(u["must_change_password"] is None for u in listed)
