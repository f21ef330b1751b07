"""The audit trail is a hash chain: a normal day verifies, and every kind of tampering an
attacker with SQL access could try is reported at the first row it touches."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import itertools
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import chain
from hms.audit import service as audit
from hms.audit.repository import CHAIN_LOCK_KEY
from hms.audit.schemas import AuditAction
from hms.db.migrate import downgrade, upgrade
from hms.db.session import create_engine
from tests.conftest import TEST_DB, _pg_admin, _pg_database_url
from tests.privacy.factories import clinical_day
from tests.statements import captured_statements

PG = TEST_DB == "postgres"


async def _sql(session: AsyncSession, statement: str, **params: object) -> None:
    """Run raw SQL against audit_log as an attacker with table access would. On PostgreSQL
    the append-only trigger is disabled first, in the test's own (rolled back) transaction,
    as only the table owner can."""
    if PG:
        await session.execute(text(
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    await session.execute(text(statement), params)
    if PG:
        await session.execute(text(
            "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


async def _seqs(session: AsyncSession) -> list[int]:
    return list((await session.scalars(text("SELECT seq FROM audit_log ORDER BY seq"))).all())


class TestWalker:
    """The pure walk over rows."""

    @staticmethod
    def _rows(n: int) -> list[dict]:
        rows, prev = [], chain.GENESIS_HASH
        for seq in range(1, n + 1):
            row = {"seq": seq, "id": uuid.uuid4(), "occurred_at": datetime.now(UTC),
                   "action": "read", "entity_type": "patient", "changes": {"n": seq},
                   "prev_hash": prev}
            row["row_hash"] = prev = chain.row_hash(row, prev)
            rows.append(row)
        return rows

    def test_intact_chain(self) -> None:
        walker = chain.ChainWalker()
        assert walker.feed(self._rows(5)) is None
        assert (walker.count, walker.last_seq) == (5, 5)

    def test_every_hashed_field_is_covered(self) -> None:
        row = self._rows(1)[0]
        for name in chain.HASHED_FIELDS:
            changed = {**row, name: "x" if name != "seq" else 99}
            assert chain.row_hash(changed, row["prev_hash"]) != row["row_hash"], name

    def test_naive_and_aware_utc_hash_alike(self) -> None:
        aware = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
        row = {"seq": 1, "occurred_at": aware}
        assert chain.row_hash(row, "0" * 64) == chain.row_hash(
            {**row, "occurred_at": aware.replace(tzinfo=None)}, "0" * 64)

    def test_kinds(self) -> None:
        rows = self._rows(6)
        altered = [*rows[:2], {**rows[2], "changes": {"n": 999}}, *rows[3:]]
        deleted = rows[:3] + rows[4:]
        forged = {**rows[5], "seq": 7, "id": uuid.uuid4(), "prev_hash": "f" * 64}
        before_first = [{**rows[0], "seq": 0}, *rows]
        assert chain.ChainWalker().feed(altered).kind == chain.BreakKind.ALTERED
        gap = chain.ChainWalker().feed(deleted)
        assert (gap.kind, gap.seq, gap.missing_from, gap.missing_to) == ("deleted", 5, 4, 4)
        assert chain.ChainWalker().feed([*rows, forged]).kind == chain.BreakKind.INSERTED
        assert chain.ChainWalker().feed(before_first).kind == chain.BreakKind.INSERTED


class TestChainInTheDatabase:
    """Rows written by the application, tampered with in SQL, verified by the service."""

    async def test_a_clinical_day_verifies(self, client, session) -> None:
        await clinical_day(client, session)
        result = await audit.verify_chain(session, batch_size=7)  # several batches
        seqs = await _seqs(session)
        assert result.ok, result
        assert len(seqs) > 10 and seqs == list(range(1, len(seqs) + 1))
        assert result.checked == len(seqs) and result.last_seq == seqs[-1]

    async def test_an_altered_row_is_named(self, client, session) -> None:
        await clinical_day(client, session)
        await _sql(session, "UPDATE audit_log SET username = 'someone_else' WHERE seq IN (4, 9)")
        result = await audit.verify_chain(session)
        assert (result.ok, result.kind, result.seq, result.checked) == (
            False, "altered", 4, 3)

    async def test_a_deleted_row_leaves_a_gap(self, client, session) -> None:
        await clinical_day(client, session)
        await _sql(session, "DELETE FROM audit_log WHERE seq = 6")
        result = await audit.verify_chain(session)
        assert (result.kind, result.seq, result.missing_from, result.missing_to) == (
            "deleted", 7, 6, 6)

    async def test_a_forged_row_is_reported(self, client, session) -> None:
        await clinical_day(client, session)
        tail = (await _seqs(session))[-1]
        row = {"seq": tail + 1, "id": uuid.uuid4(), "occurred_at": datetime.now(UTC),
               "action": "read", "entity_type": "patient"}
        # A well-formed row whose own hash is right, chained to a made-up predecessor.
        prev = hashlib.sha256(b"not the tail").hexdigest()
        await _sql(session, "INSERT INTO audit_log (id, occurred_at, action, entity_type, seq,"
                   " prev_hash, row_hash) VALUES (:id, :at, 'read', 'patient', :seq, :prev,"
                   " :hash)", id=row["id"] if PG else row["id"].hex,
                   at=row["occurred_at"] if PG else f"{row['occurred_at']:%Y-%m-%d %H:%M:%S.%f}",
                   seq=tail + 1, prev=prev, hash=chain.row_hash(row, prev))
        result = await audit.verify_chain(session)
        assert (result.ok, result.kind, result.seq, result.checked) == (
            False, "inserted", tail + 1, tail)

    async def test_an_anchor_catches_rows_deleted_from_the_end(self, client, session) -> None:
        await clinical_day(client, session)
        good = await audit.verify_chain(session)
        await _sql(session, "DELETE FROM audit_log WHERE seq = :seq", seq=good.last_seq)
        assert (await audit.verify_chain(session)).ok  # the chain alone cannot tell
        result = await audit.verify_chain(session, anchor=(good.last_seq, good.last_hash))
        assert (result.ok, result.kind, result.seq) == (False, "anchor_mismatch",
                                                        good.last_seq)

    @pytest.mark.parametrize("written", [True, False], ids=["written", "only_recorded"])
    async def test_a_rolled_back_savepoint_leaves_no_hole(self, session, written) -> None:
        """Whether the savepoint's row was already written (rolled back by the database)
        or only recorded (dropped by the session), it is gone and the chain has no hole."""
        await audit.record(session, AuditAction.READ, "probe", "a")
        if written:
            await audit.write_recorded(session)
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                await audit.record(session, AuditAction.READ, "probe", "b")
                if written:
                    await audit.write_recorded(session)
                raise RuntimeError("undo the savepoint")
        await audit.record(session, AuditAction.READ, "probe", "c")
        await audit.write_recorded(session)
        result = await audit.verify_chain(session)
        assert result.ok, result
        entities = (await session.scalars(text(
            "SELECT entity_id FROM audit_log WHERE entity_type = 'probe' ORDER BY seq"))).all()
        assert entities == ["a", "c"]


@pytest.mark.postgres_only
class TestAppendOnlyOnPostgres:
    """The table refuses UPDATE, DELETE and TRUNCATE, whoever asks."""

    @pytest.mark.parametrize("statement", [
        "UPDATE audit_log SET action = 'nothing'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ])
    async def test_changes_are_refused(self, session, statement) -> None:
        await audit.record(session, AuditAction.READ, "probe", "x")
        await audit.write_recorded(session)
        with pytest.raises(DBAPIError, match="append-only"):
            async with session.begin_nested():
                await session.execute(text(statement))
        assert await audit.count_events(session, entity_type="probe") == 1


@pytest.fixture
async def wiped(db):
    """For a test that commits: every table wiped afterwards."""
    from tests.conftest import delete_all_rows
    yield db
    async with db.engine.begin() as conn:
        await delete_all_rows(conn)


async def _assert_trail_sound(db, *, queue_empty: bool = False) -> None:
    """The whole trail verifies (and, if asked, no queued row outlived its transaction)."""
    async with db.sessionmaker() as check:
        assert (await audit.verify_chain(check)).ok
        if queue_empty:
            assert await check.scalar(text("SELECT count(*) FROM audit_pending")) == 0


async def _probe_rows(db) -> list[tuple[str, int]]:
    async with db.sessionmaker() as check:
        return [(r[0], r[1]) for r in (await check.execute(text(
            "SELECT entity_id, seq FROM audit_log WHERE entity_type = 'probe' "
            "ORDER BY seq"))).all()]


@pytest.mark.postgres_only
@pytest.mark.committed
async def test_a_flushed_transaction_does_not_hold_the_chain_lock(db, wiped) -> None:
    """The audit rows of an open transaction are only queued: the chain's append lock is
    free until that transaction commits (before migration 0019 the first flush took it, and
    every other audited request waited until this one's COMMIT arrived)."""
    async with db.sessionmaker() as first, db.sessionmaker() as other:
        await audit.record(first, AuditAction.READ, "probe", "first")
        await first.flush()
        assert await _probe_rows(db) == []  # nothing in the trail before COMMIT
        took = await other.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                  {"key": CHAIN_LOCK_KEY})
        assert took is True
        await other.rollback()  # releases it
        await first.commit()
    assert [e for e, _ in await _probe_rows(db)] == ["first"]


@pytest.mark.postgres_only
@pytest.mark.committed
async def test_rows_are_chained_in_commit_order(db, wiped) -> None:
    """Two open transactions queue rows side by side; each is chained when it commits, the
    later commit after the earlier, and the trail verifies."""
    async with db.sessionmaker() as first, db.sessionmaker() as second:
        await audit.record(first, AuditAction.READ, "probe", "first-a")
        await audit.record(first, AuditAction.READ, "probe", "first-b")
        await first.flush()
        await audit.record(second, AuditAction.READ, "probe", "second")
        await asyncio.wait_for(second.flush(), 5)  # no waiting on the first
        await second.commit()
        await first.commit()
    rows = await _probe_rows(db)
    assert [e for e, _ in rows] == ["second", "first-a", "first-b"]
    assert [s for _, s in rows] == list(range(rows[0][1], rows[0][1] + 3))
    await _assert_trail_sound(db)


@pytest.mark.postgres_only
@pytest.mark.committed
async def test_many_concurrent_commits_make_one_chain(db, wiped) -> None:
    """Twenty transactions (two writes each) committed at once: every row is chained once,
    seq has no gap or repeat, and each transaction's rows keep their recorded order."""
    async def one(n: int) -> None:
        async with db.sessionmaker() as s:
            await audit.record(s, AuditAction.READ, "probe", f"{n:02d}-1")
            await audit.write_recorded(s)
            await audit.record(s, AuditAction.READ, "probe", f"{n:02d}-2")
            await audit.record(s, AuditAction.READ, "probe", f"{n:02d}-3")
            await s.commit()

    await asyncio.gather(*(one(n) for n in range(20)))
    rows = await _probe_rows(db)
    assert len(rows) == 60 and len({e for e, _ in rows}) == 60
    assert [s for _, s in rows] == list(range(rows[0][1], rows[0][1] + 60))
    for n in range(20):
        mine = [e for e, _ in rows if e.startswith(f"{n:02d}-")]
        assert mine == [f"{n:02d}-1", f"{n:02d}-2", f"{n:02d}-3"]
    await _assert_trail_sound(db, queue_empty=True)


@pytest.mark.postgres_only
@pytest.mark.committed
@pytest.mark.parametrize("written", [True, False], ids=["written", "only_recorded"])
async def test_a_rolled_back_transaction_leaves_nothing_queued(db, wiped, written) -> None:
    async with db.sessionmaker() as s:
        await audit.record(s, AuditAction.READ, "probe", "never")
        if written:
            await audit.write_recorded(s)
        await s.rollback()
        await audit.record(s, AuditAction.READ, "probe", "kept")
        await s.commit()
    assert [e for e, _ in await _probe_rows(db)] == ["kept"]
    await _assert_trail_sound(db, queue_empty=True)


@pytest.mark.postgres_only
@pytest.mark.committed
async def test_a_read_of_the_trail_sees_the_transaction_s_own_rows(db, wiped) -> None:
    """A patient's export records its EXPORT row and then lists the patient's disclosures
    in the same transaction: the queued row is chained first, so the listing includes it
    (and everything still commits once and verifies)."""
    patient = uuid.uuid4()
    async with db.sessionmaker() as s:
        await audit.record(s, AuditAction.EXPORT, "probe", "export", patient_id=patient)
        seen = await audit.disclosures(s, patient)
        assert [e.entity_id for e in seen] == ["export"]
        await audit.record(s, AuditAction.READ, "probe", "after", patient_id=patient)
        await s.commit()
    assert [e for e, _ in await _probe_rows(db)] == ["export", "after"]
    await _assert_trail_sound(db)


def _frozen_migration():
    path = (Path(__file__).parents[2] / "src/hms/migrations/versions"
            / "0007_audit_chain_and_patient_rights.py")
    spec = importlib.util.spec_from_file_location("migration_0007", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_hashes_like_the_app() -> None:
    """Migration 0007 keeps a frozen copy of the hash; it must agree with hms.audit.chain."""
    frozen = _frozen_migration()
    row = {"seq": 3, "id": uuid.uuid4(), "occurred_at": datetime(2024, 2, 29, tzinfo=UTC),
           "user_id": uuid.uuid4(), "username": "nurse1", "action": "update",
           "entity_type": "patient", "entity_id": "x", "patient_id": uuid.uuid4(),
           "changes": {"after": {"ü": [1, 2.5, None]}}, "ip": "127.0.0.1",
           "user_agent": "pytest", "request_id": "abc"}
    assert frozen._row_hash(row, "a" * 64) == chain.row_hash(row, "a" * 64)
    assert f"pg_advisory_xact_lock({CHAIN_LOCK_KEY})" in frozen._TAIL_FUNCTION


def test_existing_rows_are_chained_by_the_migration(tmp_path) -> None:
    """Rows written before revision 0007 get seq and hashes that verify."""
    if PG:
        name = f"hms_chain_{uuid.uuid4().hex[:8]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        url = _pg_database_url(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'chain.db'}"

    async def insert_old_rows() -> None:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                for n in range(5):
                    await conn.execute(text(
                        "INSERT INTO audit_log (id, occurred_at, action, entity_type, "
                        "entity_id, changes) VALUES (:id, :at, 'read', 'patient', :eid, :ch)"),
                        {"id": uuid.uuid4() if PG else uuid.uuid4().hex,
                         "at": datetime(2024, 1, 1, 12, n, tzinfo=UTC) if PG
                         else f"2024-01-01 12:0{n}:00.000000",
                         "eid": str(n), "ch": '{"k": [1, "é"]}'})
        finally:
            await engine.dispose()

    async def verify() -> tuple[bool, int]:
        engine = create_engine(url, pool_size=1)
        try:
            async with AsyncSession(engine) as s:
                result = await audit.verify_chain(s)
                return result.ok, result.checked
        finally:
            await engine.dispose()

    try:
        upgrade(url, "0006")
        asyncio.run(insert_old_rows())
        upgrade(url, "0007")
        assert asyncio.run(verify()) == (True, 5)
        downgrade(url, "0006")
        upgrade(url, "head")
        assert asyncio.run(verify()) == (True, 5)
    finally:
        if PG:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_hash_template_finishes_to_the_canonical_row() -> None:
    """What PostgreSQL does with the template (two replacements, SHA-256) gives the hash
    :func:`chain.row_hash` gives, whatever the row holds."""
    row = {"id": uuid.uuid4(), "occurred_at": datetime.now(UTC), "action": "update",
           "entity_type": "patient", "username": "Zoë",
           "changes": {"seq": "\x00seq:0", "prev_hash": 5, "note": "ضغط الدم"}}
    template = chain.hash_template(row)
    prev = hashlib.sha256(b"x").hexdigest()
    finished = template.text.replace(template.seq_target, "42").replace(
        template.prev_target, prev)
    assert hashlib.sha256(finished.encode("ascii")).hexdigest() == chain.row_hash(
        {**row, "seq": 42}, prev)


@pytest.mark.postgres_only
async def test_rows_hashed_by_the_database_verify(session) -> None:
    """On PostgreSQL the database chains and hashes the rows (trigger of migration 0019):
    the rows of one flush and of a later flush all verify, and odd values (non-ASCII, a
    ``changes`` key named ``seq``, no changes) hash alike."""
    await audit.record(session, AuditAction.UPDATE, "patient", "p1", changes={
        "seq": "1", "prev_hash": None, "after": {"full_name": "Zoë ضغط"}})
    await audit.record(session, AuditAction.READ, "patient", "p2")
    await audit.write_recorded(session)
    await audit.record(session, AuditAction.READ, "patient", "p3", changes=None)
    await audit.write_recorded(session)
    rows = (await session.execute(text(
        "SELECT * FROM audit_log WHERE entity_id IN ('p1', 'p2', 'p3') ORDER BY seq"))
    ).mappings().all()
    assert [r["entity_id"] for r in rows] == ["p1", "p2", "p3"]
    assert [r["seq"] for r in rows] == list(range(rows[0]["seq"], rows[0]["seq"] + 3))
    for row in rows:
        assert row["row_hash"] == chain.row_hash(row, row["prev_hash"])
    assert rows[1]["prev_hash"] == rows[0]["row_hash"]
    assert rows[2]["changes"] is None
    result = await audit.verify_chain(session)
    assert result.ok, result


@pytest.mark.postgres_only
async def test_a_search_s_rows_are_one_statement_and_verify(session) -> None:
    """Writing many audit rows (a search: one SEARCH and a READ per patient shown) is one
    statement on PostgreSQL (the queue INSERT; the chaining trigger runs inside the
    database, here at once as the test transaction's trigger is IMMEDIATE): the rows come
    back in the order recorded, consecutive, each
    linked to the one before and hashed like the app hashes, whatever they hold."""
    ids = [uuid.uuid4() for _ in range(20)]
    await audit.record(session, AuditAction.SEARCH, "patient", None, changes={
        "criteria": ["name"], "patient_ids": [str(i) for i in ids], "q": "ضغط \u00e9 'x'"})
    for i in ids:
        await audit.record(session, AuditAction.READ, "patient", i, patient_id=i,
                           changes={"via": "search", "seq": "\x00seq:"})
    with captured_statements(session, "audit_") as statements:
        await audit.write_recorded(session)
    assert len(statements) == 1, statements
    rows = (await session.execute(text(
        "SELECT * FROM audit_log WHERE entity_type = 'patient' ORDER BY seq DESC LIMIT 21"))
    ).mappings().all()[::-1]
    assert [r["action"] for r in rows] == ["search"] + ["read"] * 20
    assert [r["patient_id"] for r in rows[1:]] == ids
    assert [r["seq"] for r in rows] == list(range(rows[0]["seq"], rows[0]["seq"] + 21))
    for before, row in itertools.pairwise(rows):
        assert row["prev_hash"] == before["row_hash"]
    for row in rows:
        assert row["row_hash"] == chain.row_hash(row, row["prev_hash"])
    assert rows[0]["changes"]["q"] == "ضغط \u00e9 'x'"
    result = await audit.verify_chain(session)
    assert result.ok, result


@pytest.mark.postgres_only
async def test_a_queue_row_without_a_template_per_row_is_refused(session) -> None:
    """The chaining trigger (migration 0024) hashes row ``i`` with template ``i``: a queue
    row with fewer templates than rows is refused whole, and the trail gains nothing."""
    before = await session.scalar(text("SELECT count(*) FROM audit_log"))
    refused = r"2 queued rows but 1 hash templates \(1 seq and 1 prev targets\)"
    with pytest.raises(DBAPIError, match=refused):
        async with session.begin_nested():
            await session.execute(text(
                "INSERT INTO audit_pending (event_id, occurred_at, user_id, username, action,"
                " entity_type, entity_id, patient_id, changes, ip, user_agent, request_id,"
                " template, seq_target, prev_target) VALUES (ARRAY[gen_random_uuid(),"
                " gen_random_uuid()], ARRAY[now(), now()], ARRAY[NULL, NULL]::uuid[],"
                " ARRAY['a', 'a'], ARRAY['read', 'read'], ARRAY['patient', 'patient'],"
                " ARRAY['p1', 'p2'], ARRAY[NULL, NULL]::uuid[], ARRAY[NULL, NULL]::text[],"
                " ARRAY[NULL, NULL]::varchar[], ARRAY[NULL, NULL]::varchar[],"
                " ARRAY[NULL, NULL]::varchar[], ARRAY['t'], ARRAY['s'], ARRAY['p'])"))
    assert await session.scalar(text("SELECT count(*) FROM audit_log")) == before


@pytest.mark.postgres_only
async def test_the_chain_trigger_keeps_its_plans(session) -> None:
    """A transaction that searched by name plans every statement for its values
    (``hms.db.plans.custom_plans``); the chain trigger, run at its commit, runs with the
    server's default instead (migration 0023), so PL/pgSQL reuses its statements' plans."""
    config = await session.scalar(text(
        "SELECT proconfig FROM pg_proc WHERE proname = 'hms_audit_chain_pending'"))
    assert config == ["plan_cache_mode=auto"]
