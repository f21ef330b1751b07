"""The request session commits after the handler; a failed commit is a 5xx, never a 2xx."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from hms.audit.models import AuditEvent
from hms.core.auth import DbSession
from hms.main import create_app


async def test_failed_commit_returns_5xx_and_keeps_nothing(db, settings):
    app: FastAPI = create_app(settings, db=db)
    marker = uuid.uuid4().hex[:16]

    @app.post("/_test/broken-commit")
    async def broken(session: DbSession) -> dict[str, str]:
        # A row whose foreign key points nowhere: it fails only when the session commits.
        session.add(AuditEvent(user_id=uuid.uuid4(), action="create", entity_type="test",
                               entity_id=marker))
        return {"status": "ok"}

    async with AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False),
                           base_url="http://testserver") as client:
        resp = await client.post("/_test/broken-commit")
    assert resp.status_code >= 500
    from sqlalchemy import select

    async with db.sessionmaker() as s:
        found = await s.scalar(select(AuditEvent.id).where(AuditEvent.entity_id == marker))
    assert found is None


async def _backend_pid(engine) -> int:
    from sqlalchemy import text

    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT pg_backend_pid()")))


async def _terminate(pid: int) -> None:
    """Drop backend ``pid`` from a connection outside the engine's pool."""
    import asyncpg

    from tests.conftest import PG_ADMIN_URL

    other = await asyncpg.connect(PG_ADMIN_URL)
    try:
        assert await other.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await other.close()


@pytest.mark.postgres_only
async def test_idle_connection_killed_by_the_server_is_replaced_before_use(database_url):
    """A pooled connection the server dropped while it sat idle (a PostgreSQL restart at
    night) is pinged, found dead and replaced on checkout: the next request just works."""
    from hms.db.session import create_engine

    engine = create_engine(database_url, pool_size=2, ping_after_idle=0.0)
    try:
        first = await _backend_pid(engine)
        await _terminate(first)
        second = await _backend_pid(engine)  # no error: the dead link was never handed out
        assert second != first
    finally:
        await engine.dispose()


@pytest.mark.postgres_only
async def test_busy_connections_are_not_pinged(database_url):
    """A connection back in the pool for less than the idle threshold is handed out
    without a ping (that is the round trips saved); were it dead, its first statement
    fails and SQLAlchemy invalidates the pool, so the statement after that works."""
    from sqlalchemy.exc import DBAPIError

    from hms.db.session import create_engine

    engine = create_engine(database_url, pool_size=1, ping_after_idle=3600.0)
    try:
        first = await _backend_pid(engine)
        await _terminate(first)
        with pytest.raises(DBAPIError) as caught:
            await _backend_pid(engine)
        assert caught.value.connection_invalidated
        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def _backend_client(settings, database) -> AsyncIterator[AsyncClient]:
    """A client of an app on ``database`` with one extra route, ``GET /_test/backend``,
    answering ``{"pid": <the PostgreSQL backend pid of its session>}``."""
    from sqlalchemy import text

    app: FastAPI = create_app(settings, db=database)

    @app.get("/_test/backend")
    async def backend(session: DbSession) -> dict[str, int]:
        return {"pid": int(await session.scalar(text("SELECT pg_backend_pid()")))}

    async with AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False),
                           base_url="http://testserver") as client:
        yield client


@pytest.mark.postgres_only
async def test_connection_lost_mid_use_is_a_503_to_retry(database_url, settings):
    """When the database drops a connection in steady use, the request gets a 503
    problem+json with Retry-After (nothing was saved) and the retry succeeds."""

    from hms.db.session import Database

    database = Database(database_url, pool_size=1)
    try:
        async with _backend_client(settings, database) as client:
            first = (await client.get("/_test/backend")).json()["pid"]
            await _terminate(first)
            lost = await client.get("/_test/backend")
            assert lost.status_code == 503
            assert lost.headers["content-type"].startswith("application/problem+json")
            assert lost.json()["code"] == "database_unavailable"
            assert lost.headers["retry-after"] == "1"
            retried = await client.get("/_test/backend")
            assert retried.status_code == 200 and retried.json()["pid"] != first
    finally:
        await database.dispose()


@pytest.mark.postgres_only
async def test_an_exhausted_pool_is_a_503_busy_not_a_new_connection(database_url, settings):
    """With every pooled connection in use for longer than the pool timeout, a request gets
    a 503 problem+json ``database_busy`` with Retry-After (no connection beyond the pool is
    opened: no overflow by default), and once one is free the same request works."""
    from sqlalchemy import text

    from hms.db.session import Database

    database = Database(database_url, pool_size=1, pool_timeout=0.2)
    try:
        async with _backend_client(settings, database) as client:
            async with database.engine.connect() as held:
                holder = await held.scalar(text("SELECT pg_backend_pid()"))
                busy = await client.get("/_test/backend")
                assert busy.status_code == 503
                assert busy.headers["content-type"].startswith("application/problem+json")
                assert busy.json()["code"] == "database_busy"
                assert busy.headers["retry-after"] == "1"
            freed = await client.get("/_test/backend")
            assert freed.status_code == 200 and freed.json()["pid"] == holder
    finally:
        await database.dispose()
