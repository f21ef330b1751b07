"""Password expiry (90 days) and admin resets force a change: the session is restricted to
the caller's own account routes until the password is changed (seed 003 NFR-SEC-001)."""

from __future__ import annotations

from datetime import timedelta

from hms.audit import service as audit
from hms.core.permissions import Role
from hms.db.base import utcnow
from tests.identity.factories import PASSWORD, login, make_user, set_user_columns

NEW_PASSWORD = "Night-Shift-Ward-7"


def _bearer(pair: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def _change(client, h, current=PASSWORD, new=NEW_PASSWORD):
    return await client.post("/api/v1/auth/change-password", headers=h,
                             json={"current_password": current, "new_password": new})


class TestExpiry:
    async def test_expired_password_restricts_until_changed(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        await set_user_columns(session, nurse.id,
                               password_changed_at=utcnow() - timedelta(days=91))
        pair = await login(client, nurse.username)
        assert pair["session_restriction"] == "password_change_required"
        h = _bearer(pair)
        refused = await client.get("/api/v1/visits", headers=h)
        assert refused.status_code == 403
        assert refused.json()["code"] == "password_change_required"
        assert "change-password" in refused.json()["detail"]
        me = await client.get("/api/v1/auth/me", headers=h)
        assert me.status_code == 200
        assert me.json()["session_restriction"] == "password_change_required"
        assert (await _change(client, h)).status_code == 204
        # The same token now has full access; the new password logs in unrestricted.
        assert (await client.get("/api/v1/visits", headers=h)).status_code == 200
        assert (await login(client, nurse.username, NEW_PASSWORD))["session_restriction"] is None
        assert await audit.count_events(session, action="password_change",
                                        entity_id=str(nurse.id)) == 1

    async def test_89_days_is_not_expired_and_expiry_is_reported(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        await set_user_columns(session, nurse.id,
                               password_changed_at=utcnow() - timedelta(days=89))
        pair = await login(client, nurse.username)
        assert pair["session_restriction"] is None
        me = (await client.get("/api/v1/auth/me", headers=_bearer(pair))).json()
        assert me["password_expires_at"] is not None

    async def test_max_age_zero_disables_expiry(self, client, session, live_settings,
                                                monkeypatch):
        monkeypatch.setattr(live_settings, "password_max_age_days", 0)
        nurse = await make_user(session, Role.NURSE)
        await set_user_columns(session, nurse.id,
                               password_changed_at=utcnow() - timedelta(days=900))
        assert (await login(client, nurse.username))["session_restriction"] is None

    async def test_restricted_session_may_log_out(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        await set_user_columns(session, nurse.id,
                               password_changed_at=utcnow() - timedelta(days=91))
        h = _bearer(await login(client, nurse.username))
        assert (await client.post("/api/v1/auth/logout", headers=h)).status_code == 204


class TestAdminReset:
    async def test_reset_forces_change_at_next_login(self, client, session):
        admin = await make_user(session, Role.ADMIN)
        nurse = await make_user(session, Role.NURSE)
        admin_h = _bearer(await login(client, admin.username))
        resp = await client.put(f"/api/v1/admin/users/{nurse.id}", headers=admin_h,
                                json={"password": "Temporary-Pass-55"})
        assert resp.status_code == 200
        pair = await login(client, nurse.username, "Temporary-Pass-55")
        assert pair["session_restriction"] == "password_change_required"
        h = _bearer(pair)
        refused = await client.get("/api/v1/visits", headers=h)
        assert refused.status_code == 403
        assert refused.json()["code"] == "password_change_required"
        assert (await _change(client, h, current="Temporary-Pass-55")).status_code == 204
        assert (await client.get("/api/v1/visits", headers=h)).status_code == 200
        me = (await client.get("/api/v1/auth/me", headers=h)).json()
        assert me["must_change_password"] is False and me["session_restriction"] is None

    async def test_reset_clears_a_lockout(self, client, session):
        admin = await make_user(session, Role.ADMIN)
        nurse = await make_user(session, Role.NURSE)
        admin_h = _bearer(await login(client, admin.username))
        for _ in range(5):
            await client.post("/api/v1/auth/login",
                              data={"username": nurse.username, "password": "Wrong-guess-123"})
        await client.put(f"/api/v1/admin/users/{nurse.id}", headers=admin_h,
                         json={"password": "Temporary-Pass-55"})
        assert (await login(client, nurse.username, "Temporary-Pass-55"))["access_token"]


class TestChangePassword:
    async def test_wrong_current_password_is_refused_and_counted(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        h = _bearer(await login(client, nurse.username))
        resp = await _change(client, h, current="Not-my-password-1")
        assert resp.status_code == 422
        assert [e["field"] for e in resp.json()["errors"]] == ["current_password"]
        assert await audit.count_events(session, action="login_failed", user_id=nurse.id) == 1
        assert (await login(client, nurse.username))["access_token"]  # old one still valid

    async def test_new_must_differ_from_current(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        h = _bearer(await login(client, nurse.username))
        resp = await _change(client, h, new=PASSWORD)
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["field"] == "new_password"
        assert resp.json()["errors"][0]["type"] == "password_unchanged"

    async def test_change_revokes_the_other_sessions_only(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        other = _bearer(await login(client, nurse.username))
        this = _bearer(await login(client, nurse.username))
        assert (await _change(client, this)).status_code == 204
        assert (await client.get("/api/v1/auth/me", headers=this)).status_code == 200
        assert (await client.get("/api/v1/auth/me", headers=other)).status_code == 401
        old = await client.post("/api/v1/auth/login",
                                data={"username": nurse.username, "password": PASSWORD})
        assert old.status_code == 401
