"""Login, refresh rotation, logout and deactivation, over HTTP with real tokens."""

from __future__ import annotations

from datetime import timedelta

import jwt

from hms.config import get_settings
from hms.core.permissions import Role
from hms.db.base import utcnow
from tests.identity.factories import PASSWORD, login, make_user


class TestLogin:
    async def test_form_login_returns_token_pair(self, client, session):
        user = await make_user(session, Role.NURSE)
        resp = await client.post("/api/v1/auth/login",
                                 data={"username": user.username, "password": PASSWORD})
        assert resp.status_code == 200
        body = resp.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 30 * 60
        assert body["refresh_expires_in"] == 7 * 24 * 3600

    async def test_json_login_works_and_me_reports_role(self, client, session):
        user = await make_user(session, Role.PHYSICIAN)
        resp = await client.post("/api/v1/auth/login",
                                 json={"username": user.username, "password": PASSWORD})
        assert resp.status_code == 200
        me = await client.get("/api/v1/auth/me",
                              headers={"Authorization": f"Bearer {resp.json()['access_token']}"})
        assert me.status_code == 200
        assert me.json()["role"] == "physician"
        assert "radiology_assessment:write" in me.json()["permissions"]

    async def test_wrong_password_and_unknown_user_look_the_same(self, client, session):
        user = await make_user(session, Role.NURSE)
        wrong = await client.post("/api/v1/auth/login",
                                  data={"username": user.username, "password": "nope-nope"})
        unknown = await client.post("/api/v1/auth/login",
                                    data={"username": "ghost", "password": "nope-nope"})
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["detail"] == unknown.json()["detail"]
        assert wrong.headers["content-type"].startswith("application/problem+json")

    async def test_failed_login_is_audited(self, client, session):
        from hms.audit import service as audit

        user = await make_user(session, Role.NURSE)
        await client.post("/api/v1/auth/login",
                          data={"username": user.username, "password": "bad-password"})
        assert await audit.count_events(session, action="login_failed", user_id=user.id) == 1

    async def test_missing_fields_are_listed(self, client):
        resp = await client.post("/api/v1/auth/login", json={"username": "x"})
        assert resp.status_code == 422
        assert [e["field"] for e in resp.json()["errors"]] == ["password"]


class TestRefresh:
    async def test_refresh_rotates_and_reuse_revokes_family(self, client, session):
        user = await make_user(session, Role.NURSE)
        first = await login(client, user.username)
        second = await client.post("/api/v1/auth/refresh",
                                   json={"refresh_token": first["refresh_token"]})
        assert second.status_code == 200
        new = second.json()
        assert new["refresh_token"] != first["refresh_token"]
        # Reusing the first refresh token: refused, and the whole family dies.
        reuse = await client.post("/api/v1/auth/refresh",
                                  json={"refresh_token": first["refresh_token"]})
        assert reuse.status_code == 401
        after = await client.post("/api/v1/auth/refresh",
                                  json={"refresh_token": new["refresh_token"]})
        assert after.status_code == 401
        me = await client.get("/api/v1/auth/me",
                              headers={"Authorization": f"Bearer {new['access_token']}"})
        assert me.status_code == 401

    async def test_access_token_is_not_a_refresh_token(self, client, session):
        user = await make_user(session, Role.NURSE)
        pair = await login(client, user.username)
        resp = await client.post("/api/v1/auth/refresh",
                                 json={"refresh_token": pair["access_token"]})
        assert resp.status_code == 401


class TestLogoutAndRevocation:
    async def test_logout_revokes_access_and_refresh(self, client, session):
        user = await make_user(session, Role.NURSE)
        pair = await login(client, user.username)
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
        resp = await client.post("/api/v1/auth/refresh",
                                 json={"refresh_token": pair["refresh_token"]})
        assert resp.status_code == 401

    async def test_deactivated_user_tokens_stop_at_once(self, client, session):
        admin = await make_user(session, Role.ADMIN)
        nurse = await make_user(session, Role.NURSE)
        admin_token = (await login(client, admin.username))["access_token"]
        admin_h = {"Authorization": f"Bearer {admin_token}"}
        nurse_pair = await login(client, nurse.username)
        nurse_h = {"Authorization": f"Bearer {nurse_pair['access_token']}"}
        assert (await client.get("/api/v1/auth/me", headers=nurse_h)).status_code == 200
        resp = await client.put(f"/api/v1/admin/users/{nurse.id}", json={"is_active": False},
                                headers=admin_h)
        assert resp.status_code == 200 and resp.json()["is_active"] is False
        assert (await client.get("/api/v1/auth/me", headers=nurse_h)).status_code == 401
        again = await client.post("/api/v1/auth/login",
                                  data={"username": nurse.username, "password": PASSWORD})
        assert again.status_code == 401

    async def test_expired_and_forged_tokens_are_refused(self, client, session):
        user = await make_user(session, Role.ADMIN)
        pair = await login(client, user.username)
        claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
        settings = get_settings()
        expired = dict(claims, exp=int((utcnow() - timedelta(minutes=1)).timestamp()))
        for token in (
            jwt.encode(expired, settings.jwt_secret, algorithm="HS256"),
            jwt.encode(claims, "another-key-entirely-but-long-enough-000", algorithm="HS256"),
            jwt.encode(claims, None, algorithm="none"),
        ):
            resp = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 401


class TestAdminUsers:
    async def test_admin_creates_and_lists_users(self, client, session):
        admin = await make_user(session, Role.ADMIN)
        h = {"Authorization": f"Bearer {(await login(client, admin.username))['access_token']}"}
        resp = await client.post("/api/v1/admin/users", headers=h, json={
            "username": "new.nurse", "password": "Long-enough-pw-1", "role": "nurse",
            "full_name": "New Nurse"})
        assert resp.status_code == 201
        dup = await client.post("/api/v1/admin/users", headers=h, json={
            "username": "new.nurse", "password": "Long-enough-pw-1", "role": "nurse"})
        assert dup.status_code == 409
        listed = await client.get("/api/v1/admin/users", headers=h, params={"role": "nurse"})
        assert [u["username"] for u in listed.json()["items"]] == ["new.nurse"]
        assert (await login(client, "new.nurse", "Long-enough-pw-1"))["access_token"]

    async def test_password_reset_forces_change_and_revokes(self, client, session):
        admin = await make_user(session, Role.ADMIN)
        nurse = await make_user(session, Role.NURSE)
        h = {"Authorization": f"Bearer {(await login(client, admin.username))['access_token']}"}
        old = await login(client, nurse.username)
        resp = await client.put(f"/api/v1/admin/users/{nurse.id}", headers=h,
                                json={"password": "Brand-new-pass-9"})
        assert resp.json()["must_change_password"] is True
        me = await client.get("/api/v1/auth/me",
                              headers={"Authorization": f"Bearer {old['access_token']}"})
        assert me.status_code == 401
        assert (await login(client, nurse.username, "Brand-new-pass-9"))["access_token"]

    async def test_nurse_cannot_manage_users(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        h = {"Authorization": f"Bearer {(await login(client, nurse.username))['access_token']}"}
        resp = await client.get("/api/v1/admin/users", headers=h)
        assert resp.status_code == 403
        assert resp.json()["status"] == 403
