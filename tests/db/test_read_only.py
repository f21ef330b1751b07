"""Read-only routes (``@read_only``): their session refuses writes but the audit trail's,
and on PostgreSQL runs each statement in its own transaction (no BEGIN/COMMIT round trips)
while the read's audit row is still committed before the response."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select, text, update

from hms.audit import service as audit_service
from hms.audit.schemas import AuditAction
from hms.core.auth import DbSession, read_only
from hms.db.session import READ_ONLY, ReadOnlyViolation
from hms.main import create_app
from hms.organization.models import Department
from tests.conftest import PG_ADMIN_URL
from tests.identity.factories import login, make_user
from tests.patients.factories import make_patient


@pytest.fixture
async def read_session(session):
    """The test session, flagged as a read-only route's session."""
    session.info[READ_ONLY] = True
    yield session
    session.info.pop(READ_ONLY, None)


async def _department(session) -> Department:
    session.info.pop(READ_ONLY, None)
    dept = Department(name=f"Ward {uuid.uuid4().hex[:8]}")
    session.add(dept)
    await session.flush()
    session.info[READ_ONLY] = True
    return dept


class TestTheGuard:
    async def test_reads_and_audit_rows_pass(self, read_session):
        patient = await make_patient_unflagged(read_session)
        rows = (await read_session.scalars(select(Department).limit(5))).all()
        assert isinstance(rows, list)
        assert await read_session.scalar(text("SELECT 1")) == 1
        await audit_service.record(read_session, AuditAction.READ, "patient", patient.id,
                                   patient_id=patient.id)
        await read_session.flush()
        assert await audit_service.count_events(read_session, entity_id=str(patient.id),
                                                action="read") == 1

    async def test_a_new_row_is_refused(self, read_session):
        read_session.add(Department(name="Never written"))
        with pytest.raises(ReadOnlyViolation, match="Department"):
            await read_session.flush()

    async def test_a_changed_row_is_refused(self, read_session):
        dept = await _department(read_session)
        dept.name = "Renamed"
        with pytest.raises(ReadOnlyViolation, match="Department"):
            await read_session.flush()

    async def test_setting_a_field_to_its_own_value_is_not_a_write(self, read_session):
        dept = await _department(read_session)
        dept.name = dept.name
        await read_session.flush()  # nothing to write: no violation

    async def test_a_deleted_row_is_refused(self, read_session):
        dept = await _department(read_session)
        await read_session.delete(dept)
        with pytest.raises(ReadOnlyViolation):
            await read_session.flush()

    @pytest.mark.parametrize("statement", [
        lambda: update(Department).values(name="x"),
        lambda: select(Department).with_for_update(),
        lambda: text("UPDATE departments SET name = name"),
        lambda: text("select pg_advisory_xact_lock(1)"),
        lambda: text("SELECT id FROM departments FOR UPDATE"),
    ], ids=["orm_update", "for_update", "text_update", "advisory_lock", "text_for_update"])
    async def test_writes_and_locks_are_refused(self, read_session, statement):
        with pytest.raises(ReadOnlyViolation):
            await read_session.execute(statement())

    async def test_other_sessions_are_untouched(self, session):
        session.add(Department(name=f"Ward {uuid.uuid4().hex[:8]}"))
        await session.flush()


async def make_patient_unflagged(session):
    session.info.pop(READ_ONLY, None)
    try:
        return await make_patient(session)
    finally:
        session.info[READ_ONLY] = True


def _api_routes(routes):
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):  # FastAPI's included routers
            yield from _api_routes(r.original_router.routes)


def test_only_get_routes_are_marked_read_only(settings):
    app = create_app(settings)
    marked = [(sorted(r.methods), r.path) for r in _api_routes(app.routes)
              if getattr(r.endpoint, "__hms_read_only__", False)]
    assert ("/api/v1/patients/{patient_ssn}" in [p for _, p in marked])
    assert all(methods == ["GET"] for methods, _ in marked), marked


async def test_a_read_only_route_that_writes_fails_and_writes_nothing(client, session,
                                                                     app: FastAPI):
    marker = f"Ward {uuid.uuid4().hex[:8]}"

    @app.get("/_test/read-only-writes")
    @read_only
    async def writes(db_session: DbSession) -> dict[str, str]:
        db_session.add(Department(name=marker))
        return {"status": "ok"}

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as c:
        resp = await c.get("/_test/read-only-writes")
    assert resp.status_code == 500
    assert await session.scalar(select(Department.id).where(Department.name == marker)) is None


@pytest.mark.postgres_only
async def test_postgres_read_only_route_runs_without_a_transaction(committed_app, db):
    """Two ``now()`` calls: the same instant inside a transaction, two instants when each
    statement is its own transaction."""
    app: FastAPI = committed_app

    async def two_clocks(session) -> bool:
        first = await session.scalar(text("SELECT now()"))
        await session.scalar(text("SELECT pg_sleep(0.001)"))
        second = await session.scalar(text("SELECT now()"))
        return bool(first != second)

    @app.get("/_test/clocks-read-only")
    @read_only
    async def read(session: DbSession) -> dict[str, bool]:
        return {"own_transactions": await two_clocks(session)}

    @app.get("/_test/clocks")
    async def plain(session: DbSession) -> dict[str, bool]:
        return {"own_transactions": await two_clocks(session)}

    async with AsyncClient(transport=ASGITransport(app=app),
                           base_url="http://testserver") as c:
        assert (await c.get("/_test/clocks-read-only")).json() == {"own_transactions": True}
        assert (await c.get("/_test/clocks")).json() == {"own_transactions": False}


@pytest.mark.postgres_only
async def test_postgres_read_is_audited_and_committed(committed_app, db):
    """A patient read through a read-only route: the READ row is in the chain, committed
    (seen from another connection) by the time the response arrives."""
    from hms.core.permissions import Role

    async with db.sessionmaker() as s:
        user = await make_user(s, Role.RECEPTIONIST)
        patient = await make_patient(s)
        await s.commit()
    async with AsyncClient(transport=ASGITransport(app=committed_app),
                           base_url="http://testserver") as c:
        pair = await login(c, user.username)
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        resp = await c.get(f"/api/v1/patients/{patient.patient_number}", headers=headers)
        assert resp.status_code == 200
        other = await asyncpg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/"
                                      + db.engine.url.database)
        try:
            rows = await other.fetch(
                "SELECT action, seq, row_hash FROM audit_log WHERE entity_type = 'patient' "
                "AND entity_id = $1", str(patient.id))
        finally:
            await other.close()
    assert [r["action"] for r in rows] == ["read"]
    assert rows[0]["seq"] > 0 and len(rows[0]["row_hash"]) == 64
    async with db.sessionmaker() as s:
        assert (await audit_service.verify_chain(s)).ok


async def test_a_read_only_route_still_commits_what_it_holds(committed_app, db):
    """A read-only session with nothing to write is closed without a commit (PostgreSQL);
    one holding an audit row added as an ORM object, a recorded audit row, or a listener
    waiting for its commit is committed: the rows are in the trail and the listener ran,
    on either database."""
    from sqlalchemy import event

    from hms.audit.models import AuditEvent

    app: FastAPI = committed_app
    marker = uuid.uuid4().hex[:16]
    committed: list[str] = []

    @app.get("/_test/read-orm-audit")
    @read_only
    async def orm_audit(session: DbSession) -> dict[str, bool]:
        session.add(AuditEvent(action="read", entity_type="test", entity_id=marker + "o"))
        return {"ok": True}

    @app.get("/_test/read-recorded-audit")
    @read_only
    async def recorded(session: DbSession) -> dict[str, bool]:
        await session.scalar(text("SELECT 1"))
        await audit_service.record(session, AuditAction.READ, "test", marker + "r")
        return {"ok": True}

    @app.get("/_test/read-after-commit")
    @read_only
    async def listener(session: DbSession) -> dict[str, bool]:
        await session.scalar(text("SELECT 1"))
        event.listen(session.sync_session, "after_commit",
                     lambda _s: committed.append(marker))
        return {"ok": True}

    @app.get("/_test/read-nothing")
    @read_only
    async def nothing(session: DbSession) -> dict[str, bool]:
        return {"ok": await session.scalar(text("SELECT 1")) == 1}

    async with AsyncClient(transport=ASGITransport(app=app),
                           base_url="http://testserver") as c:
        for path in ("read-orm-audit", "read-recorded-audit", "read-after-commit",
                     "read-nothing"):
            resp = await c.get(f"/_test/{path}")
            assert resp.status_code == 200, (path, resp.text)
    async with db.sessionmaker() as s:
        found = set(await s.scalars(select(AuditEvent.entity_id).where(
            AuditEvent.entity_type == "test")))
        assert found == {marker + "o", marker + "r"}
        assert (await audit_service.verify_chain(s)).ok
    assert committed == [marker]
