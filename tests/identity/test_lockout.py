"""Account lockout (seed 003 NFR-SEC-001: lock after 5 failed logins; NIST SP 800-63B
5.2.2), attacked the way a password guesser would."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hms.audit import service as audit
from hms.core.permissions import Role
from hms.db.base import utcnow
from hms.db.session import unit_of_work
from tests.identity.factories import (
    PASSWORD,
    login,
    make_user,
    set_user_columns,
    user_columns,
)

LOGIN = "/api/v1/auth/login"


async def _attempt(client, username: str, password: str):
    return await client.post(LOGIN, data={"username": username, "password": password})


class TestLockout:
    async def test_sixth_attempt_with_right_password_looks_like_unknown_user(
            self, client, session):
        user = await make_user(session, Role.NURSE)
        for _ in range(5):
            assert (await _attempt(client, user.username, "Wrong-guess-123")).status_code == 401
        locked = await _attempt(client, user.username, PASSWORD)
        unknown = await _attempt(client, "nobody.at.all", PASSWORD)
        assert locked.status_code == unknown.status_code == 401
        assert locked.json() == unknown.json()
        assert locked.json()["detail"] == "Incorrect username or password"
        assert locked.headers["www-authenticate"] == unknown.headers["www-authenticate"]
        assert await audit.count_events(session, action="login_locked", user_id=user.id) == 1
        # Every refusal is on the trail: 5 wrong passwords and the refused right one.
        assert await audit.count_events(session, action="login_failed", user_id=user.id) == 6

    async def test_four_failures_do_not_lock(self, client, session):
        user = await make_user(session, Role.NURSE)
        for _ in range(4):
            await _attempt(client, user.username, "Wrong-guess-123")
        assert (await _attempt(client, user.username, PASSWORD)).status_code == 200

    async def test_success_resets_the_counter(self, client, session):
        user = await make_user(session, Role.NURSE)
        for _ in range(4):
            await _attempt(client, user.username, "Wrong-guess-123")
        assert (await user_columns(session, user.id, "failed_login_count"))[
            "failed_login_count"] == 4
        await login(client, user.username)
        assert (await user_columns(session, user.id, "failed_login_count"))[
            "failed_login_count"] == 0
        for _ in range(4):
            await _attempt(client, user.username, "Wrong-guess-123")
        assert (await _attempt(client, user.username, PASSWORD)).status_code == 200

    async def test_lock_ends_after_the_window(self, client, session, settings):
        user = await make_user(session, Role.NURSE)
        for _ in range(5):
            await _attempt(client, user.username, "Wrong-guess-123")
        cols = await user_columns(session, user.id, "locked_until")
        window = cols["locked_until"] - utcnow()
        assert timedelta(minutes=settings.lockout_minutes - 1) < window <= timedelta(
            minutes=settings.lockout_minutes)
        assert (await _attempt(client, user.username, PASSWORD)).status_code == 401
        # The window passes.
        await set_user_columns(session, user.id, locked_until=utcnow() - timedelta(seconds=1))
        assert (await _attempt(client, user.username, PASSWORD)).status_code == 200
        assert await user_columns(session, user.id, "failed_login_count", "locked_until") == {
            "failed_login_count": 0, "locked_until": None}

    async def test_threshold_and_window_come_from_settings(self, client, session,
                                                           live_settings, monkeypatch):
        monkeypatch.setattr(live_settings, "lockout_threshold", 2)
        monkeypatch.setattr(live_settings, "lockout_minutes", 60)
        user = await make_user(session, Role.NURSE)
        for _ in range(2):
            await _attempt(client, user.username, "Wrong-guess-123")
        assert (await _attempt(client, user.username, PASSWORD)).status_code == 401
        cols = await user_columns(session, user.id, "locked_until")
        assert cols["locked_until"] - utcnow() > timedelta(minutes=59)

    async def test_unknown_usernames_are_not_locked_or_told_apart(self, client):
        bodies = [(await _attempt(client, "ghost.user", "Wrong-guess-123")).json()
                  for _ in range(7)]
        assert all(b == bodies[0] for b in bodies)

    async def test_admin_unlock(self, client, session):
        admin = await make_user(session, Role.ADMIN)
        nurse = await make_user(session, Role.NURSE)
        h = {"Authorization": f"Bearer {(await login(client, admin.username))['access_token']}"}
        for _ in range(5):
            await _attempt(client, nurse.username, "Wrong-guess-123")
        listed = await client.get("/api/v1/admin/users", headers=h, params={"role": "nurse"})
        assert listed.json()["items"][0]["locked_until"] is not None
        resp = await client.put(f"/api/v1/admin/users/{nurse.id}", headers=h,
                                json={"unlock": True})
        assert resp.status_code == 200 and resp.json()["locked_until"] is None
        assert (await _attempt(client, nurse.username, PASSWORD)).status_code == 200


class TestConcurrentGuessing:
    async def test_parallel_wrong_passwords_all_count(self, committed_client, db):
        async with unit_of_work(db) as s:
            user = await make_user(s, Role.NURSE)
        # A burst of parallel guesses: the counter is incremented in SQL, so none is lost.
        results = await asyncio.gather(*(
            _attempt(committed_client, user.username, f"Wrong-guess-{i:03d}")
            for i in range(8)))
        assert all(r.status_code == 401 for r in results)
        locked = await _attempt(committed_client, user.username, PASSWORD)
        assert locked.status_code == 401
        async with unit_of_work(db) as s:
            assert await audit.count_events(s, action="login_locked", user_id=user.id) >= 1
