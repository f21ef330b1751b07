"""Roles are data: the seeded bundles, the admin routes that change them, and the effect
of a change on the very next request.

Source: HMS seed 003 sections 4.3 (``resource:action[:scope]``) and 4.4 (roles).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select

from hms.audit.models import AuditEvent
from hms.core.permissions import ROLE_PERMISSIONS, Perm, Role, default_grants
from hms.identity.models import CataloguedPermission, RolePermission
from hms.identity.roles import sync_permission_catalogue
from tests.forms.factories import radiology_body
from tests.identity.factories import auth_headers, login, make_user
from tests.visits.factories import make_visit

ROLES = "/api/v1/admin/roles"
PROBLEM = "application/problem+json"


async def _roles(client, headers) -> dict[str, list[str]]:
    resp = await client.get(ROLES, headers=headers, params={"page_size": 100})
    assert resp.status_code == 200, resp.text
    return {r["name"]: r["permissions"] for r in resp.json()["items"]}


async def set_role(client, headers, role: str, permissions: list[str]):
    """PUT a role's permission list (the response)."""
    return await client.put(f"{ROLES}/{role}/permissions", headers=headers,
                            json={"permissions": permissions})


class TestSeededRoles:
    async def test_every_role_holds_todays_bundle(self, client, session):
        admin = await auth_headers(client, session, Role.SUPER_ADMIN)
        roles = await _roles(client, admin)
        assert set(roles) == {r.value for r in Role}
        for role in Role:
            assert roles[role.value] == default_grants(role), role

    async def test_clinical_roles_read_at_all_scope(self, client, session):
        admin = await auth_headers(client, session, Role.ADMIN)
        roles = await _roles(client, admin)
        for name in ("nurse", "physician", "admin"):
            assert "visit:read:all" in roles[name]
            assert "patient:read:all" in roles[name]
        assert "radiology_assessment:write" in roles["physician"]
        assert "radiology_assessment:write" not in roles["nurse"]

    async def test_me_lists_the_permission_strings_with_scopes(self, client, session):
        nurse = await auth_headers(client, session, Role.NURSE)
        me = (await client.get("/api/v1/auth/me", headers=nurse)).json()
        assert me["permissions"] == default_grants(Role.NURSE)


class TestReplacePermissions:
    async def test_change_applies_at_the_next_request(self, client, session):
        admin = await auth_headers(client, session, Role.SUPER_ADMIN)
        physician = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        url = f"/api/v1/visits/{visit.id}/radiology-assessment"
        reduced = [g for g in default_grants(Role.PHYSICIAN)
                   if g != "radiology_assessment:write"]
        resp = await set_role(client, admin, "physician", reduced)
        assert resp.status_code == 200, resp.text
        assert resp.json()["permissions"] == sorted(reduced)
        # Same token as before the change: the role is re-read, not trusted from the token.
        assert (await client.post(url, json=radiology_body(), headers=physician)
                ).status_code == 403
        await set_role(client, admin, "physician", default_grants(Role.PHYSICIAN))
        assert (await client.post(url, json=radiology_body(), headers=physician)
                ).status_code == 201

    async def test_strings_are_canonicalised(self, client, session):
        admin = await auth_headers(client, session, Role.ADMIN)
        resp = await set_role(client, admin, "receptionist", [
            "PATIENT:READ:department", "patient:read:own", "visit:read",
            "visit:read:department", "form:read:all", "form:read",
        ])
        assert resp.status_code == 200, resp.text
        assert resp.json()["permissions"] == [
            "form:read", "patient:read:department", "patient:read:own", "visit:read:all"]
        assert (await _roles(client, admin))["receptionist"] == resp.json()["permissions"]

    async def test_unknown_or_malformed_strings_are_422_naming_each(self, client, session):
        admin = await auth_headers(client, session, Role.ADMIN)
        before = (await _roles(client, admin))["nurse"]
        resp = await set_role(client, admin, "nurse", [
            "visit:read", "visit:teleport", "form:read:department", "patient:read:ward",
            "*:*:*", "visit", "user:manage:own:extra",
        ])
        assert resp.status_code == 422
        assert resp.headers["content-type"].startswith(PROBLEM)
        fields = [e["field"] for e in resp.json()["errors"]]
        assert fields == ["permissions.1", "permissions.2", "permissions.3", "permissions.4",
                          "permissions.5", "permissions.6"]
        assert (await _roles(client, admin))["nurse"] == before

    async def test_super_admin_keeps_user_and_role_management(self, client, session):
        admin = await auth_headers(client, session, Role.SUPER_ADMIN)
        everything = default_grants(Role.SUPER_ADMIN)
        for dropped in ("user:manage", "role:manage"):
            resp = await set_role(client, admin, "super_admin",
                                  [g for g in everything if g != dropped])
            assert resp.status_code == 422
            assert resp.json()["code"] == "role_lockout"
        resp = await set_role(client, admin, "super_admin", ["user:manage", "role:manage"])
        assert resp.status_code == 200

    async def test_unknown_role_is_404(self, client, session):
        admin = await auth_headers(client, session, Role.ADMIN)
        resp = await set_role(client, admin, "janitor", ["visit:read"])
        assert resp.status_code == 404

    async def test_alias_names_the_same_role(self, client, session):
        admin = await auth_headers(client, session, Role.ADMIN)
        resp = await set_role(client, admin, "doctor", default_grants(Role.PHYSICIAN))
        assert resp.status_code == 200
        assert resp.json()["name"] == "physician"

    async def test_change_is_audited_with_before_and_after(self, client, session):
        admin = await auth_headers(client, session, Role.ADMIN)
        await set_role(client, admin, "pharmacist", ["patient:read:department"])
        event = (await session.scalars(
            select(AuditEvent).where(AuditEvent.entity_type == "role",
                                     AuditEvent.entity_id == "pharmacist"))).one()
        assert event.action == "update"
        assert event.changes["before"] == {"permissions": []}
        assert event.changes["after"] == {"permissions": ["patient:read:department"]}
        assert event.changes["added"] == ["patient:read:department"]

    async def test_clinical_staff_cannot_change_roles(self, client, session):
        for role in (Role.NURSE, Role.PHYSICIAN):
            headers = await auth_headers(client, session, role)
            resp = await set_role(client, headers, role.value, [p.value for p in Perm])
            assert resp.status_code == 403


class TestDepartments:
    async def test_admin_sets_and_clears_a_users_department(self, client, session):
        admin = await auth_headers(client, session, Role.ADMIN)
        resp = await client.post("/api/v1/admin/users", headers=admin, json={
            "username": f"dr{uuid.uuid4().hex[:8]}", "password": "Correct-Horse-42!",
            "role": "physician", "department": " Cardiology "})
        assert resp.status_code == 201, resp.text
        assert resp.json()["department"] == "Cardiology"
        user_id = resp.json()["id"]
        resp = await client.put(f"/api/v1/admin/users/{user_id}", headers=admin,
                                json={"department": "Radiology"})
        assert resp.json()["department"] == "Radiology"
        resp = await client.put(f"/api/v1/admin/users/{user_id}", headers=admin,
                                json={"full_name": "Dr Example"})
        assert resp.json()["department"] == "Radiology"  # not sent: unchanged
        resp = await client.put(f"/api/v1/admin/users/{user_id}", headers=admin,
                                json={"department": None})
        assert resp.json()["department"] is None

    async def test_department_with_control_characters_is_422(self, client, session):
        admin = await auth_headers(client, session, Role.ADMIN)
        user = await make_user(session, Role.NURSE)
        resp = await client.put(f"/api/v1/admin/users/{user.id}", headers=admin,
                                json={"department": "Cardio\x00logy"})
        assert resp.status_code == 422

    async def test_me_shows_the_department(self, client, session):
        user = await make_user(session, Role.NURSE, department="Emergency")
        tokens = await login(client, user.username)
        me = await client.get("/api/v1/auth/me",
                              headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.json()["department"] == "Emergency"


class TestCatalogueSync:
    """``hms migrate`` grants permissions the code added later, once, and retires removed
    ones; an admin's removals stick."""

    async def test_new_permission_reaches_its_default_roles(self, connection):
        new = Perm.FORM_READ.value  # pretend the database has never heard of it
        await connection.execute(delete(RolePermission).where(
            RolePermission.permission == new))
        await connection.execute(delete(CataloguedPermission).where(
            CataloguedPermission.name == new))
        changes = await connection.run_sync(sync_permission_catalogue)
        assert changes == [f"+{new}"]
        holders = set(await connection.scalars(
            select(RolePermission.role).where(RolePermission.permission == new)))
        assert holders == {r.value for r, perms in ROLE_PERMISSIONS.items()
                           if Perm.FORM_READ in perms}

    async def test_an_admins_removal_survives_the_next_migrate(self, connection):
        await connection.execute(delete(RolePermission).where(
            RolePermission.role == "physician", RolePermission.permission == "form:read"))
        assert await connection.run_sync(sync_permission_catalogue) == []
        held = set(await connection.scalars(
            select(RolePermission.permission).where(RolePermission.role == "physician")))
        assert "form:read" not in held

    async def test_retired_permission_is_removed_with_its_grants(self, connection):
        await connection.execute(insert(CataloguedPermission).values(
            name="ward:teleport", added_at=datetime.now(UTC)))
        await connection.execute(insert(RolePermission).values(
            role="nurse", permission="ward:teleport:own"))
        assert await connection.run_sync(sync_permission_catalogue) == ["-ward:teleport"]
        left = await connection.scalar(select(RolePermission.permission).where(
            RolePermission.permission.like("ward:%")))
        assert left is None
