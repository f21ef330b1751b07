"""Group commit of read audit rows (PostgreSQL, ``hms.audit.service.ReadAppends``): the
audit rows of concurrent read-only requests are appended together, yet no read is answered
before its own row is committed, and a failed append fails its reads instead of answering
them unaudited."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from hms.audit import service as audit_service
from hms.audit.repository import CHAIN_LOCK_KEY
from hms.core.permissions import Role
from tests.conftest import PG_ADMIN_URL
from tests.identity.factories import login, make_user
from tests.patients.factories import make_patient

pytestmark = pytest.mark.postgres_only

READS = 6


async def _setup(db):
    async with db.sessionmaker() as s:
        user = await make_user(s, Role.RECEPTIONIST)
        patients = [await make_patient(s) for _ in range(READS)]
        await s.commit()
    return user, patients


async def _connect(db) -> asyncpg.Connection:
    return await asyncpg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db.engine.url.database)


async def _read_rows(other: asyncpg.Connection, patients) -> dict[str, int]:
    rows = await other.fetch(
        "SELECT entity_id, count(*) AS n FROM audit_log WHERE entity_type = 'patient' "
        "AND action = 'read' AND entity_id = ANY($1::varchar[]) GROUP BY entity_id",
        [str(p.id) for p in patients])
    return {r["entity_id"]: r["n"] for r in rows}


async def _until(condition, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_concurrent_reads_are_appended_together_and_each_waits_for_its_row(
        committed_app, db):
    user, patients = await _setup(db)
    other = await _connect(db)
    try:
        async with AsyncClient(transport=ASGITransport(app=committed_app),
                               base_url="http://testserver") as c:
            headers = {"Authorization": f"Bearer {(await login(c, user.username))['access_token']}"}
            appends = audit_service.read_appends(db.read_engine)
            before = appends.batches
            # Hold the chain's append lock: the first append blocks at its commit.
            await other.execute("BEGIN")
            await other.execute("SELECT pg_advisory_xact_lock($1)", CHAIN_LOCK_KEY)
            reads = [asyncio.create_task(c.get(f"/api/v1/patients/{p.patient_number}",
                                               headers=headers)) for p in patients]
            await _until(lambda: appends.pending == READS)
            await asyncio.sleep(0.05)
            # Every read has its patient but no committed audit row: none is answered.
            assert not any(task.done() for task in reads)
            assert await _read_rows(other, patients) == {}
            await other.execute("COMMIT")
            responses = await asyncio.gather(*reads)
    finally:
        await other.close()

    assert [r.status_code for r in responses] == [200] * READS
    assert sorted(r.json()["patient_number"] for r in responses) == sorted(
        p.patient_number for p in patients)
    # The reads that finished behind the blocked append went in one more: at most two.
    assert 1 <= appends.batches - before <= 2
    assert appends.pending == 0
    other = await _connect(db)
    try:
        assert await _read_rows(other, patients) == {str(p.id): 1 for p in patients}
    finally:
        await other.close()
    async with db.sessionmaker() as s:
        assert (await audit_service.verify_chain(s)).ok


async def test_a_failed_append_fails_its_reads_and_writes_none_of_them(committed_app, db):
    user, patients = await _setup(db)
    async with AsyncClient(transport=ASGITransport(app=committed_app, raise_app_exceptions=False),
                           base_url="http://testserver") as c:
        headers = {"Authorization": f"Bearer {(await login(c, user.username))['access_token']}"}
        async with db.engine.begin() as conn:  # every audit_pending INSERT now fails
            await conn.execute(text("ALTER TABLE audit_pending ADD CONSTRAINT test_refuse "
                                    "CHECK (false) NOT VALID"))
        try:
            failed = await asyncio.gather(*(
                c.get(f"/api/v1/patients/{p.patient_number}", headers=headers)
                for p in patients[:3]))
        finally:
            async with db.engine.begin() as conn:
                await conn.execute(text("ALTER TABLE audit_pending DROP CONSTRAINT test_refuse"))
        answered = await c.get(f"/api/v1/patients/{patients[3].patient_number}",
                               headers=headers)

    assert [r.status_code for r in failed] == [500] * 3
    assert all(r.headers["content-type"].startswith("application/problem+json")
               for r in failed)
    assert all("patient_number" not in r.text for r in failed)
    assert answered.status_code == 200
    other = await _connect(db)
    try:
        assert await _read_rows(other, patients) == {str(patients[3].id): 1}
    finally:
        await other.close()
    assert audit_service.read_appends(db.read_engine).pending == 0


# -- announced reads: an append due while they run waits for their rows ---------------------


async def _announced_read(appends, name: str, may_go: asyncio.Event | None = None) -> None:
    """An announced read of a made-up entity ``name`` whose own statement runs until
    ``may_go`` is set (no wait without it), then records its row."""
    with appends.expect() as announced:
        if may_go is not None:
            await may_go.wait()
        await announced.record("patient", name, patient_id=None,
                               changes={"identifiers": "full"})


async def _trail_ids(db, prefix: str) -> list[str]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT entity_id FROM audit_log WHERE entity_id LIKE :p ORDER BY seq"),
            {"p": prefix + "%"})
        return [r[0] for r in rows]


async def test_an_append_waits_for_the_reads_announced_before_it(committed_app, db, monkeypatch):
    # A wait long enough that only the reads themselves can end it.
    monkeypatch.setattr(audit_service, "GATHER_MAX_SECONDS", 30.0)
    appends = audit_service.read_appends(db.read_engine)
    batches, gathered = appends.batches, appends.gathered
    a_may_record = asyncio.Event()

    slow = asyncio.create_task(_announced_read(appends, "gather-a", a_may_record))
    await asyncio.sleep(0)  # A announced, its statement under way
    fast = asyncio.create_task(_announced_read(appends, "gather-b"))
    await _until(lambda: appends.pending == 1)
    await asyncio.sleep(0.05)
    # B's row is queued, yet its append waits for A, which was announced before it.
    assert not fast.done()
    assert appends.batches == batches
    a_may_record.set()
    await asyncio.wait_for(asyncio.gather(slow, fast), 10)

    assert appends.batches - batches == 1  # both rows in one append
    assert appends.gathered - gathered == 1
    assert await _trail_ids(db, "gather-") == ["gather-b", "gather-a"]
    async with db.sessionmaker() as s:
        assert (await audit_service.verify_chain(s)).ok


async def test_a_read_that_leaves_without_a_row_ends_the_wait_for_it(committed_app, db,
                                                                     monkeypatch):
    monkeypatch.setattr(audit_service, "GATHER_MAX_SECONDS", 30.0)
    appends = audit_service.read_appends(db.read_engine)
    batches = appends.batches
    fail = asyncio.Event()

    async def not_found() -> None:
        with appends.expect():
            await fail.wait()
            raise LookupError("no such patient")

    missing = asyncio.create_task(not_found())
    await asyncio.sleep(0)
    answered = asyncio.create_task(_announced_read(appends, "left-b"))
    await _until(lambda: appends.pending == 1)
    assert not answered.done()
    fail.set()
    await asyncio.wait_for(answered, 10)  # not the 30 s bound
    with pytest.raises(LookupError):
        await missing
    assert appends.batches - batches == 1
    assert await _trail_ids(db, "left-") == ["left-b"]
    assert not appends._expected


async def test_a_stalled_read_holds_an_append_back_no_longer_than_the_bound(committed_app, db,
                                                                            monkeypatch):
    monkeypatch.setattr(audit_service, "GATHER_MAX_SECONDS", 0.05)
    appends = audit_service.read_appends(db.read_engine)
    batches = appends.batches
    stalled_may_go = asyncio.Event()  # e.g. a read waiting for a pool connection

    slow = asyncio.create_task(_announced_read(appends, "bound-a", stalled_may_go))
    await asyncio.sleep(0)
    # Answered while the stalled read still runs.
    await asyncio.wait_for(_announced_read(appends, "bound-b"), 10)
    assert not slow.done()
    assert appends.batches - batches == 1
    stalled_may_go.set()
    await asyncio.wait_for(slow, 10)
    assert appends.batches - batches == 2
    assert await _trail_ids(db, "bound-") == ["bound-b", "bound-a"]


async def test_reads_announced_after_an_append_was_due_do_not_hold_it(committed_app, db,
                                                                      monkeypatch):
    monkeypatch.setattr(audit_service, "GATHER_MAX_SECONDS", 30.0)
    appends = audit_service.read_appends(db.read_engine)
    batches = appends.batches
    first_may_go, late_may_go = asyncio.Event(), asyncio.Event()

    first = asyncio.create_task(_announced_read(appends, "late-a", first_may_go))
    await asyncio.sleep(0)
    due = asyncio.create_task(_announced_read(appends, "late-b"))
    await _until(lambda: appends.pending == 1)  # B's append is due, waiting for A
    # Announced after that.
    late = asyncio.create_task(_announced_read(appends, "late-c", late_may_go))
    await asyncio.sleep(0.01)
    first_may_go.set()
    await asyncio.wait_for(asyncio.gather(first, due), 10)  # C still under way
    assert not late.done()
    assert appends.batches - batches == 1
    late_may_go.set()
    await asyncio.wait_for(late, 10)
    assert await _trail_ids(db, "late-") == ["late-b", "late-a", "late-c"]


async def test_a_read_alone_is_appended_at_once(committed_app, db, monkeypatch):
    # Its own announcement ends when it hands its row over: no other read is waited for.
    monkeypatch.setattr(audit_service, "GATHER_MAX_SECONDS", 30.0)
    appends = audit_service.read_appends(db.read_engine)
    gathered = appends.gathered
    await asyncio.wait_for(_announced_read(appends, "alone-a"), 10)
    assert appends.gathered == gathered
    assert await _trail_ids(db, "alone-") == ["alone-a"]
