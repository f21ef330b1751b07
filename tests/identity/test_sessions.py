"""The caller's sessions (seed 003 `sessions`, `/auth/sessions`, `/auth/logout-all`): list,
revoke one, revoke all; and refresh-token reuse revoking its family, audited."""

from __future__ import annotations

import uuid

from hms.audit import service as audit
from hms.core.permissions import Role
from tests.identity.factories import login, make_user


def _bearer(pair: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


class TestListSessions:
    async def test_lists_live_sessions_and_marks_the_current_one(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        first = await login(client, nurse.username)
        second = await client.post("/api/v1/auth/login", headers={"User-Agent": "ward-tablet/2"},
                                   data={"username": nurse.username,
                                         "password": "Correct-Horse-42!"})
        h = _bearer(second.json())
        await client.post("/api/v1/auth/logout", headers=_bearer(await login(
            client, nurse.username)))  # a third, ended session is not listed
        resp = await client.get("/api/v1/auth/sessions", headers=h)
        assert resp.status_code == 200
        body = resp.json()
        assert body["total"] == 2
        current = [s for s in body["items"] if s["current"]]
        assert len(current) == 1 and current[0]["user_agent"] == "ward-tablet/2"
        assert set(body["items"][0]) >= {"id", "created_at", "last_used_at", "expires_at",
                                         "ip", "user_agent", "current"}
        other = await client.get("/api/v1/auth/sessions", headers=_bearer(first))
        assert {s["id"] for s in other.json()["items"]} == {s["id"] for s in body["items"]}

    async def test_other_users_sessions_are_not_listed(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        physician = await make_user(session, Role.PHYSICIAN)
        await login(client, physician.username)
        h = _bearer(await login(client, nurse.username))
        assert (await client.get("/api/v1/auth/sessions", headers=h)).json()["total"] == 1


class TestRevokeSession:
    async def test_revoking_a_session_stops_its_tokens(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        laptop = await login(client, nurse.username)
        phone = _bearer(await login(client, nurse.username))
        items = (await client.get("/api/v1/auth/sessions", headers=phone)).json()["items"]
        laptop_id = next(s["id"] for s in items if not s["current"])
        resp = await client.delete(f"/api/v1/auth/sessions/{laptop_id}", headers=phone)
        assert resp.status_code == 204
        assert (await client.get("/api/v1/auth/me", headers=_bearer(laptop))).status_code == 401
        refresh = await client.post("/api/v1/auth/refresh",
                                    json={"refresh_token": laptop["refresh_token"]})
        assert refresh.status_code == 401
        assert (await client.get("/api/v1/auth/me", headers=phone)).status_code == 200
        assert await audit.count_events(session, action="session_revoke",
                                        entity_id=laptop_id) == 1
        again = await client.delete(f"/api/v1/auth/sessions/{laptop_id}", headers=phone)
        assert again.status_code == 404

    async def test_another_users_session_is_not_found(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        victim = await make_user(session, Role.PHYSICIAN)
        victim_pair = await login(client, victim.username)
        victim_h = _bearer(victim_pair)
        victim_sid = (await client.get("/api/v1/auth/sessions",
                                       headers=victim_h)).json()["items"][0]["id"]
        h = _bearer(await login(client, nurse.username))
        resp = await client.delete(f"/api/v1/auth/sessions/{victim_sid}", headers=h)
        unknown = await client.delete(f"/api/v1/auth/sessions/{uuid.uuid4()}", headers=h)
        assert resp.status_code == unknown.status_code == 404
        assert resp.json()["detail"] == unknown.json()["detail"]
        assert (await client.get("/api/v1/auth/me", headers=victim_h)).status_code == 200


class TestLogoutAll:
    async def test_logout_all_ends_every_session(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        pairs = [await login(client, nurse.username) for _ in range(3)]
        resp = await client.post("/api/v1/auth/logout-all", headers=_bearer(pairs[0]))
        assert resp.status_code == 204
        for pair in pairs:
            assert (await client.get("/api/v1/auth/me", headers=_bearer(pair))).status_code == 401
            refresh = await client.post("/api/v1/auth/refresh",
                                        json={"refresh_token": pair["refresh_token"]})
            assert refresh.status_code == 401
        events = await audit.list_events(session, action="logout", entity_id=str(nurse.id))
        assert [e.changes for e in events] == [{"scope": "all", "sessions_revoked": 3}]
        assert (await login(client, nurse.username))["access_token"]  # can log in again


class TestRefreshReuse:
    async def test_reuse_revokes_the_family_and_is_audited(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        pair = await login(client, nurse.username)
        rotated = await client.post("/api/v1/auth/refresh",
                                    json={"refresh_token": pair["refresh_token"]})
        assert rotated.status_code == 200
        reuse = await client.post("/api/v1/auth/refresh",
                                  json={"refresh_token": pair["refresh_token"]})
        assert reuse.status_code == 401
        assert await audit.count_events(session, action="token_reuse", user_id=nurse.id) == 1
        h = _bearer(rotated.json())
        assert (await client.get("/api/v1/auth/me", headers=h)).status_code == 401
