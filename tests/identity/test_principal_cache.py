"""The per-worker principal cache (hms.identity.principal_cache, issue 5): a token is
resolved from the database once, and any change to the account, its login session or a role
reaches the next request, whether made by this worker, another worker or plain SQL."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event

from hms.core.permissions import Role
from hms.identity.principal_cache import CachedAuthenticator, PrincipalCache, PrincipalListener
from tests.conftest import PG_ADMIN_URL
from tests.identity.factories import auth_headers, login, make_user

ME = "/api/v1/auth/sessions"  # any authenticated route that does not read the user itself


class _PrincipalQueries:
    """Counts the per-request authentication query (user JOIN sessions) on an engine."""

    def __init__(self, engine) -> None:
        self.count = 0
        self.engine = engine.sync_engine

    def __call__(self, conn, cursor, statement, *args) -> None:
        if "FROM users JOIN sessions" in statement:
            self.count += 1

    def __enter__(self) -> _PrincipalQueries:
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self)


async def _start_cache(app, db) -> tuple[PrincipalCache, PrincipalListener]:
    cache = PrincipalCache(60)
    listener = PrincipalListener(cache, db.url)
    await listener.start()
    assert cache.live
    app.state.authenticator = CachedAuthenticator(cache)
    return cache, listener


@pytest.fixture
async def cache(app, db):
    """The test app with a live principal cache (PostgreSQL: NOTIFY needs a listener)."""
    cache, listener = await _start_cache(app, db)
    yield cache
    await listener.stop()



@pytest.mark.postgres_only
async def test_a_token_is_resolved_from_the_database_once(client, session, cache, db):
    headers = await auth_headers(client, session, Role.NURSE)
    with _PrincipalQueries(db.engine) as queries:
        for _ in range(5):
            assert (await client.get(ME, headers=headers)).status_code == 200
    assert queries.count == 1
    assert len(cache) == 1


@pytest.mark.postgres_only
async def test_logout_refuses_the_token_on_the_next_request(client, session, cache):
    user = await make_user(session, Role.NURSE)
    pair = await login(client, user.username)
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get(ME, headers=headers)).status_code == 200  # now cached
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get(ME, headers=headers)).status_code == 401


@pytest.mark.postgres_only
async def test_deactivation_and_role_change_apply_at_once(client, session, cache):
    admin = await auth_headers(client, session, Role.ADMIN)
    nurse = await make_user(session, Role.NURSE)
    pair = await login(client, nurse.username)
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/api/v1/invoices", headers=headers)).status_code == 403

    changed = await client.put(f"/api/v1/users/{nurse.id}", headers=admin,
                               json={"role": "billing_officer"})
    assert changed.status_code == 200, changed.text
    # a nurse reads no invoices, a billing officer does: the new role applies at once
    assert (await client.get("/api/v1/invoices", headers=headers)).status_code == 200

    assert (await client.delete(f"/api/v1/users/{nurse.id}", headers=admin)).status_code == 200
    assert (await client.get(ME, headers=headers)).status_code == 401


@pytest.mark.postgres_only
async def test_a_change_committed_by_another_process_reaches_the_cache(
        committed_app, db):
    """Plain SQL from another connection (another worker, the CLI, a DBA) deactivates the
    user: the trigger's NOTIFY empties this worker's entry within moments."""
    app = committed_app
    cache, listener = await _start_cache(app, db)
    try:
        async with db.sessionmaker() as s:
            user = await make_user(s, Role.NURSE)
        async with AsyncClient(transport=ASGITransport(app=app),
                               base_url="http://testserver") as client:
            pair = await login(client, user.username)
            headers = {"Authorization": f"Bearer {pair['access_token']}"}
            # The login's own commit sends a NOTIFY that may reach the listener just after
            # this first read was cached (and so empties it): read until it stays cached.
            for _ in range(100):
                assert (await client.get(ME, headers=headers)).status_code == 200
                if len(cache) == 1:
                    break
                await asyncio.sleep(0.02)
            assert len(cache) == 1

            other = await asyncpg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/"
                                          + db.engine.url.database)
            try:
                await other.execute("UPDATE users SET is_active = false WHERE id = $1",
                                    uuid.UUID(str(user.id)))
            finally:
                await other.close()
            for _ in range(100):  # NOTIFY arrives in milliseconds; allow up to 2 s
                if len(cache) == 0:
                    break
                await asyncio.sleep(0.02)
            assert len(cache) == 0
            assert (await client.get(ME, headers=headers)).status_code == 401
    finally:
        await listener.stop()


@pytest.mark.postgres_only
async def test_without_its_listener_the_cache_steps_aside(client, session, cache, db):
    """The listener's connection is cut: nothing is served from memory (every request
    reads the database) until it has reconnected."""
    headers = await auth_headers(client, session, Role.NURSE)
    assert (await client.get(ME, headers=headers)).status_code == 200
    assert len(cache) == 1
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%' AND datname = $1", db.engine.url.database)
    finally:
        await conn.close()
    assert killed >= 1
    for _ in range(100):
        if not cache.live:
            break
        await asyncio.sleep(0.02)
    assert not cache.live and len(cache) == 0
    with _PrincipalQueries(db.engine) as queries:
        assert (await client.get(ME, headers=headers)).status_code == 200
        assert (await client.get(ME, headers=headers)).status_code == 200
    assert queries.count == 2
    for _ in range(200):  # reconnects after RECONNECT_SECONDS
        if cache.live:
            break
        await asyncio.sleep(0.05)
    assert cache.live


def test_a_load_that_raced_an_invalidation_is_not_stored():
    """A request read the account, then a revocation invalidated the cache before the
    request stored its answer: the stale answer must not be kept."""
    from hms.core.auth import Principal

    cache = PrincipalCache(60)
    cache.live = True
    principal = Principal(user_id=uuid.uuid4(), username="n1", role=Role.NURSE,
                          permissions=frozenset(), session_id=uuid.uuid4(), token_id="j")
    started = cache.generation
    cache.invalidate(str(principal.user_id))
    cache.put("token", principal, 1e12, generation=started, now=0.0)
    assert cache.get("token", 1.0) is None
    cache.put("token", principal, 1e12, generation=cache.generation, now=0.0)
    assert cache.get("token", 1.0) is principal
    assert cache.get("token", 61.0) is None  # at most max_age after it was read
