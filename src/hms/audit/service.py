"""Writing and reading the audit trail. Callers pass the session of their own transaction,
so an audited change and its audit row commit (or roll back) together.

The trail is a hash chain (:mod:`hms.audit.chain`). Callers only ``record``: the row waits
on the session (a plain dict) and is written with the others, in recording order, at the
session's next flush of ORM changes (``before_flush``), at commit (``before_commit``) or
before a read of the trail; a rollback of its transaction or SAVEPOINT drops it.

On PostgreSQL writing queues them (one INSERT into ``audit_pending``, no lock:
:func:`hms.audit.repository.queue_rows`) and the database chains them when the transaction
commits (deferred trigger of migration 0019: the append lock, the tail, each row's ``seq``,
``prev_hash`` and ``row_hash``), so the lock that serialises appends is held for the
commit's own work, never across a round trip to this process; chain order is commit order.
A read of the trail first chains the transaction's own queued rows
(:func:`hms.audit.repository.settle`), so it sees them.

On SQLite (one writer at a time: hms opens every write transaction with ``BEGIN
IMMEDIATE``) the first audit write of a transaction reads the tail and later writes
continue from the tail it remembers; rows are hashed here and inserted in one statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from hms.audit.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    ChainWalker,
    hash_template,
    row_hash,
)
from hms.audit.models import AuditEvent
from hms.audit.repository import (
    AuditRepository,
    EventFilter,
    append_rows,
    chain_tail,
    insert_rows,
    queue_rows,
    settle,
)
from hms.audit.schemas import (
    AuditAction,
    AuditEventRead,
    AuditLogPage,
    ChainVerification,
)
from hms.core import context
from hms.core.errors import ValidationFailed
from hms.db.base import new_id, utcnow
from hms.db.session import after_read, holds_writes

#: ``session.info`` (SQLite): ``(seq, row_hash)`` of the chain tail as this transaction
#: left it; dropped when any transaction of the session ends (a rolled-back SAVEPOINT takes
#: its rows with it).
_TAIL = "hms.audit.chain_tail"
#: ``session.info`` (PostgreSQL): set when the session's transaction has queued audit rows
#: for the chain; dropped when its outermost transaction ends.
_QUEUED = "hms.audit.queued"


#: ``session.info``: the audit rows :func:`record` added and not yet written, in order
#: (plain dicts of the row's columns: no ORM objects, which cost ~20 us each to create,
#: track and expunge; a search page records 21).
_ROWS = "hms.audit.rows"
#: ``session.info``: for each SAVEPOINT (weakly held), how many rows :data:`_ROWS` held
#: when it began; rolling it back drops the rows recorded inside it, as the ORM drops
#: objects added inside it.
_MARKS = "hms.audit.marks"


# -- the hash chain, assigned when the rows are written -------------------------------------


def _write_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Give audit rows (column dicts, in recording order) their place in the chain and
    write them. PostgreSQL: queue them for the chaining trigger (one statement; chained at
    COMMIT). SQLite: number and hash them after the tail (read at the transaction's first
    audit write, remembered after) and insert them (one executemany)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        queue_rows(conn, [(values, hash_template(values)) for values in rows])
        session.info[_QUEUED] = True
        return
    tail = session.info.get(_TAIL)
    if tail is None:
        tail = chain_tail(conn) or (0, GENESIS_HASH)
    seq, prev = tail
    for values in rows:
        seq += 1
        values["seq"] = seq
        values["prev_hash"] = prev
        values["row_hash"] = prev = row_hash(values, prev)
    session.info[_TAIL] = (seq, prev)
    insert_rows(conn, rows)


def _write_recorded(session: Session) -> None:
    """Write the rows :func:`record` added since the last write (``before_flush``,
    ``before_commit``, and before any read of the trail)."""
    rows = session.info.get(_ROWS)
    if rows:
        session.info[_ROWS] = []
        _write_rows(session, rows)


def _chain_new_events(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    """``before_flush``: write the recorded rows first, then any ``AuditEvent`` an ORM
    caller added itself (taken out of the session: the rows are written here, not by the
    ORM)."""
    _write_recorded(session)
    pending = [obj for obj in session.new
               if isinstance(obj, AuditEvent) and obj.row_hash is None]
    if not pending:
        return
    pending.sort(key=lambda obj: inspect(obj).insert_order)
    rows = []
    for ev in pending:
        values = {name: getattr(ev, name) for name in HASHED_FIELDS if name != "seq"}
        values["id"] = ev.id or new_id()
        values["occurred_at"] = (ev.occurred_at or utcnow()).astimezone(UTC)
        rows.append(values)
        session.expunge(ev)
    _write_rows(session, rows)


def _before_commit(session: Session) -> None:
    _write_recorded(session)


def _savepoint_began(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_MARKS, weakref.WeakKeyDictionary())
        marks[transaction] = len(session.info.get(_ROWS, ()))


def _rolled_back(session: Session, transaction: SessionTransaction) -> None:
    """``after_soft_rollback``: a rolled-back SAVEPOINT takes the rows recorded inside it;
    the outermost transaction, every unwritten row."""
    rows = session.info.get(_ROWS)
    if not rows:
        return
    if transaction.nested:
        mark = session.info.get(_MARKS, {}).get(transaction)
        if mark is not None:
            del rows[mark:]
    elif transaction.parent is None:
        rows.clear()


def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    session.info.pop(_TAIL, None)
    if transaction.parent is None:
        session.info.pop(_QUEUED, None)
        session.info.pop(_ROWS, None)


async def write_recorded(session: AsyncSession) -> None:
    """Write the audit rows recorded so far in the session's transaction now (rather than
    at its next flush of ORM changes or at commit): for code that reads ``audit_log``
    with its own SQL."""
    await session.run_sync(_write_recorded)


async def _own_rows_chained(session: AsyncSession) -> None:
    """Before a read of the trail: write what was recorded, flush, and chain what this
    transaction has queued (PostgreSQL; :func:`hms.audit.repository.settle`), so the read
    includes its own rows."""
    await session.run_sync(_write_recorded)
    await session.flush()
    if session.info.get(_QUEUED):
        await settle(session)


#: The longest an append waits for reads announced before it (:meth:`ReadAppends.expect`):
#: about a patient read's own statement on a busy server. Bounds what a read that stalls
#: (waiting for a pool connection, say) can add to the others' latency.
GATHER_MAX_SECONDS = 0.002


class ReadAppends:
    """Group commit of the audit rows of read-only requests (PostgreSQL).

    A read's only write is its audit row. Committed one request at a time, each row costs
    a transaction of its own: the ``audit_pending`` INSERT, the chaining trigger (append
    lock, tail, chain) and the commit; measured 2026-12-07 on a patient read, 0.51 ms of
    PostgreSQL CPU and 0.25 ms of this process's, over a third of the whole read. Here the
    rows of every read that finishes while an append is under way wait for the next
    append, which queues them all in one statement on a connection of its own: one
    transaction per batch, chained by the same trigger, so the hash chain is unchanged.
    The statement is run by asyncpg itself (:func:`~hms.audit.repository.append_rows`).

    Each request still waits until its rows are committed before its response is sent
    (no read is answered without its audit row), and a failed append fails every request
    of its batch with the database's error (a 5xx; none of the batch's rows is written).
    A request's rows stay together and in order; requests are chained in the order they
    finished.

    A read that announces itself before its own statement (:meth:`expect`, as the
    session-less patient read does) is waited for: when an append is due while reads
    announced before it are still under way, it starts once they have all handed over
    their rows or left, or after :data:`GATHER_MAX_SECONDS`, whichever comes first. Without
    it, at moderate load each append took the one or two rows ready at that moment and the
    reads finishing a fraction of a millisecond later waited for the whole next append
    (measured 2026-12-08, 1M patients, 16 connections: 2.5 rows an append against 5.6 at
    64). Reads announced after the append was due are not waited for, so a steady stream
    of reads cannot hold it back; with no read under way (a quiet clinic) nothing waits.

    One per engine and event loop (a server worker); see :func:`read_appends`.

    Args:
        engine: the read sessions' engine (PostgreSQL; each append is a statement that
            commits by itself, whatever the engine's isolation level).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.loop = asyncio.get_running_loop()
        self._waiting: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        #: Appends committed and the rows in them, since start (for tests and diagnostics).
        self.batches = 0
        self.rows = 0
        #: Rows handed over and not yet committed (or failed): queued or being appended.
        self.pending = 0
        #: Appends that waited for announced reads (for tests and diagnostics).
        self.gathered = 0
        # Announced reads under way (their tickets), the next ticket, and while an append
        # waits: the first ticket it does not wait for, how many it still waits for, and
        # the future that ends the wait.
        self._expected: set[int] = set()
        self._ticket = 0
        self._cut = 0
        self._awaited = 0
        self._gathering: asyncio.Future[None] | None = None

    @contextlib.contextmanager
    def expect(self) -> Iterator[ReadAnnounced]:
        """Announce a read whose audit row will follow: inside the block the read runs its
        statement and hands its row over with :meth:`ReadAnnounced.record`; an append due
        meanwhile waits for it (see the class). Leaving the block without recording (the
        read failed, or found nothing to audit) ends the wait for it."""
        ticket = self._ticket
        self._ticket += 1
        self._expected.add(ticket)
        try:
            yield ReadAnnounced(self, ticket)
        finally:
            self._arrived(ticket)

    def _arrived(self, ticket: int) -> None:
        """An announced read handed its row over or left."""
        if ticket not in self._expected:
            return
        self._expected.discard(ticket)
        if ticket < self._cut:
            self._awaited -= 1
            if self._awaited == 0:
                self._release()

    def _release(self) -> None:
        if self._gathering is not None and not self._gathering.done():
            self._gathering.set_result(None)

    async def _gather(self) -> None:
        """Wait for the reads announced so far (see the class), at most
        :data:`GATHER_MAX_SECONDS`."""
        self._cut = self._ticket
        self._awaited = len(self._expected)
        self._gathering = self.loop.create_future()
        timer = self.loop.call_later(GATHER_MAX_SECONDS, self._release)
        try:
            await self._gathering
        finally:
            timer.cancel()
            self._gathering = None
            self._cut = 0
            self._awaited = 0
        self.gathered += 1

    async def append(self, rows: list[dict[str, Any]]) -> None:
        """Queue ``rows`` (recorded column dicts, in order) for the next append and wait
        until it has committed them.

        Raises:
            sqlalchemy.exc.DBAPIError: the append failed; none of its rows was written.
        """
        # A cancelled request (client gone) does not cancel the append its rows are in.
        await asyncio.shield(self._queue(rows))

    def _queue(self, rows: list[dict[str, Any]]) -> asyncio.Future[None]:
        """Queue ``rows`` for the next append; the future is done once it committed them."""
        done: asyncio.Future[None] = self.loop.create_future()
        self._waiting.append((rows, done))
        self.pending += len(rows)
        if self._writer is None:
            self._writer = self.loop.create_task(self._write_batches())
        return done

    async def _write_batches(self) -> None:
        try:
            while self._waiting:
                if self._expected:
                    await self._gather()
                batch, self._waiting = self._waiting, []
                rows = [(values, hash_template(values)) for queued, _ in batch
                        for values in queued]
                failed: Exception | None = None
                try:
                    await append_rows(self.engine, rows)
                except Exception as error:  # every waiter gets the database's error
                    failed = error
                else:
                    self.batches += 1
                    self.rows += len(rows)
                self.pending -= len(rows)
                for _, done in batch:
                    if done.done():
                        continue
                    if failed is None:
                        done.set_result(None)
                    else:
                        done.set_exception(failed)
                        # Marked as retrieved: a waiter whose request was cancelled (the
                        # client left) never awaits it; the others still raise.
                        done.exception()
        finally:
            self._writer = None


class ReadAnnounced:
    """A read announced to its :class:`ReadAppends` (:meth:`ReadAppends.expect`,
    :func:`read_announced`), whose READ row follows."""

    __slots__ = ("_appends", "_ticket")

    def __init__(self, appends: ReadAppends, ticket: int) -> None:
        self._appends = appends
        self._ticket = ticket

    async def record(self, entity_type: str, entity_id: object, *,
                     patient_id: uuid.UUID | None,
                     changes: Mapping[str, Any] | None = None) -> None:
        """Write this read's audit row (as :func:`record`, action READ) through the group
        commit and return once it is committed and chained, so the caller answers only
        after its read is on the trail. No append waits for this read after it.

        Raises:
            sqlalchemy.exc.DBAPIError: the append failed; the row was not written.
        """
        appends = self._appends
        done = appends._queue([_row(AuditAction.READ, entity_type, entity_id,
                                    patient_id=patient_id, changes=changes)])
        appends._arrived(self._ticket)
        # A cancelled request (client gone) does not cancel the append its row is in.
        await asyncio.shield(done)


_APPENDS: weakref.WeakKeyDictionary[Engine, ReadAppends] = weakref.WeakKeyDictionary()


def read_appends(engine: AsyncEngine) -> ReadAppends:
    """The :class:`ReadAppends` of ``engine`` (``Database.read_engine``) on the running
    event loop (a new one when the loop changed: tests run a loop per test)."""
    appends = _APPENDS.get(engine.sync_engine)
    if appends is None or appends.loop is not asyncio.get_running_loop():
        appends = _APPENDS[engine.sync_engine] = ReadAppends(engine)
    return appends


@after_read
def _append_reads(session: AsyncSession) -> Callable[[], Awaitable[None]] | None:
    """A read-only route's session on PostgreSQL: take its recorded audit rows to the
    group commit (:class:`ReadAppends`), awaited by the request once its session has given
    its connection back. SQLite (one writer at a time, rows hashed after the tail read in
    the same transaction) keeps writing them at the session's commit."""
    rows = session.info.get(_ROWS)
    bind = session.bind
    if not rows or not isinstance(bind, AsyncEngine) or bind.dialect.name != "postgresql":
        return None
    session.info[_ROWS] = []
    return partial(read_appends(bind).append, rows)


@holds_writes
def _rows_recorded(session: AsyncSession) -> bool:
    """Rows :func:`record` added that the session's commit has still to write."""
    return bool(session.info.get(_ROWS))


event.listen(Session, "before_flush", _chain_new_events)
event.listen(Session, "before_commit", _before_commit)
event.listen(Session, "after_transaction_create", _savepoint_began)
event.listen(Session, "after_soft_rollback", _rolled_back)
event.listen(Session, "after_transaction_end", _transaction_ended)


#: Values :func:`_jsonable` returns as they are (checked first, by exact type: most audit
#: values are strings, and the ABC checks below cost more than the rest of the work).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Changed fields as ``{"before": {...}, "after": {...}}`` (only keys whose value changed)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {
        "before": {k: _jsonable(before.get(k)) for k in keys},
        "after": {k: _jsonable(after.get(k)) for k in keys},
    }


async def record(
    session: AsyncSession,
    action: AuditAction,
    entity_type: str,
    entity_id: object | None = None,
    *,
    patient_id: uuid.UUID | None = None,
    changes: Mapping[str, Any] | None = None,
    user_id: uuid.UUID | None = None,
    username: str | None = None,
) -> None:
    """Add one audit row to the caller's transaction.

    Args:
        action: what happened.
        entity_type: table-level name, e.g. ``"patient"``, ``"visit"``.
        entity_id: the entity's id (stringified).
        patient_id: the patient the data belongs to, for per-patient disclosure reports.
        changes: e.g. :func:`diff` output, or ``{"after": {...}}`` for a create.
        user_id, username: override the request's actor (e.g. a failed login).

    The actor, IP, user agent and request id come from :mod:`hms.core.context`. The row
    is written (chained, on PostgreSQL queued for the chaining trigger) at the session's
    next flush of ORM changes, at commit, or before a read of the trail
    (:func:`write_recorded` writes it at once); a rollback of the transaction or of the
    SAVEPOINT it was recorded in drops it.
    """
    if session.sync_session.get_transaction() is None:
        # As session.add would: the row belongs to the transaction (a rollback drops it).
        session.sync_session.begin()
    session.info.setdefault(_ROWS, []).append(_row(
        action, entity_type, entity_id, patient_id=patient_id, changes=changes,
        user_id=user_id, username=username))


def _row(action: AuditAction, entity_type: str, entity_id: object | None, *,
         patient_id: uuid.UUID | None, changes: Mapping[str, Any] | None,
         user_id: uuid.UUID | None = None, username: str | None = None) -> dict[str, Any]:
    """One audit row's column values (see :func:`record`), the actor and request taken
    from :mod:`hms.core.context`."""
    ctx = context.current()
    return {
        "id": new_id(),
        "occurred_at": utcnow(),
        "user_id": user_id or ctx.user_id,
        "username": username or ctx.username,
        "action": action.value,
        "entity_type": entity_type,
        "entity_id": str(entity_id) if entity_id is not None else None,
        "patient_id": patient_id,
        "changes": _jsonable(changes) if changes is not None else None,
        "ip": ctx.ip,
        "user_agent": (ctx.user_agent or "")[:400] or None,
        "request_id": ctx.request_id or None,
    }


def read_announced(engine: AsyncEngine) -> contextlib.AbstractContextManager[ReadAnnounced]:
    """For a read made without a session (PostgreSQL, on a pooled connection given back
    before its audit row is written): announce it to the read trail's group commit before
    its statement, then record its READ row with :meth:`ReadAnnounced.record`::

        with audit_service.read_announced(db.read_engine) as audit:
            values = ...  # the read's own statement
            await audit.record("patient", values["id"], patient_id=values["id"])

    An append due while the statement runs waits for the row (:class:`ReadAppends`);
    leaving the block without recording (nothing found, an error) ends that wait.

    Args:
        engine: ``Database.read_engine`` (PostgreSQL).
    """
    return read_appends(engine).expect()


async def record_reads(
    session: AsyncSession, entity_type: str, entities: Iterable[tuple[object, uuid.UUID | None]]
) -> None:
    """Audit a read of several entities at once: ``(entity_id, patient_id)`` pairs."""
    for entity_id, patient_id in entities:
        await record(session, AuditAction.READ, entity_type, entity_id, patient_id=patient_id)


async def list_events(
    session: AsyncSession,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    patient_id: uuid.UUID | None = None,
    action: str | None = None,
    limit: int = 100,
) -> list[AuditEventRead]:
    """Audit rows, newest first, filtered by the given fields (not audited: for services
    and tests; the HTTP listing is :func:`page_events`)."""
    await _own_rows_chained(session)
    rows = await AuditRepository(session).newest(
        EventFilter(entity_type=entity_type, entity_id=entity_id, patient_id=patient_id,
                    action=action), limit=limit)
    return [AuditEventRead.model_validate(r) for r in rows]


async def disclosures(
    session: AsyncSession, patient_id: uuid.UUID, *, limit: int = 10_000
) -> list[AuditEventRead]:
    """The audit rows about one patient (who read, wrote, exported... their data, and when),
    newest first, at most ``limit`` (for the patient's export: an accounting of
    disclosures, HIPAA 45 CFR 164.528). Not audited: the caller audits the export."""
    await _own_rows_chained(session)
    rows = await AuditRepository(session).newest(EventFilter(patient_id=patient_id),
                                                 limit=limit)
    return [AuditEventRead.model_validate(r) for r in rows]


async def count_events(session: AsyncSession, **filters: Any) -> int:
    """Number of audit rows matching equality ``filters`` on AuditEvent columns."""
    await _own_rows_chained(session)
    return await AuditRepository(session).count(**filters)


async def page_events(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    patient_id: uuid.UUID | None = None,
    action: str | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> AuditLogPage:
    """One page of the audit trail for auditors (``GET /audit-logs``), newest first.

    Args:
        user_id, entity_type, entity_id, patient_id, action: equality filters.
        occurred_from, occurred_to: time window ``[from, to)``, UTC (naive = UTC).
        cursor: ``next_cursor`` of the previous page (rows with a lower ``seq``).
        limit: rows per page, 1..100.

    Returns:
        The rows and the cursor of the next page (None on the last page).

    The listing is itself audited (action ``search`` on ``audit_log``: the filter names
    used and the number of rows returned), since the trail discloses who saw which patient.
    """
    f = EventFilter(user_id=user_id, entity_type=entity_type, entity_id=entity_id,
                    patient_id=patient_id, action=action,
                    occurred_from=_utc(occurred_from, "from"),
                    occurred_to=_utc(occurred_to, "to"))
    before = int(cursor) if cursor else None
    await _own_rows_chained(session)
    rows = await AuditRepository(session).page_by_seq(f, before_seq=before, limit=limit + 1)
    items = [AuditEventRead.model_validate(r) for r in rows[:limit]]
    next_cursor = str(items[-1].seq) if len(rows) > limit and items else None
    used = [name for name, value in (
        ("user_id", user_id), ("entity_type", entity_type), ("entity_id", entity_id),
        ("patient_id", patient_id), ("action", action), ("from", occurred_from),
        ("to", occurred_to), ("cursor", cursor)) if value is not None]
    await record(session, AuditAction.SEARCH, "audit_log", None,
                 changes={"filters": used, "returned": len(items)})
    return AuditLogPage(items=items, next_cursor=next_cursor)


def _utc(value: datetime | None, field: str) -> datetime | None:
    """``value`` as an aware UTC datetime (naive = UTC).

    Raises:
        ValidationFailed (422): the time cannot be expressed in UTC (e.g. year 1 at +14:00).
    """
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationFailed("Time out of range", errors=[{
            "field": field, "in": "query", "message": "out of the supported time range",
            "type": "value_error"}]) from None


async def verify_chain(
    session: AsyncSession, *, batch_size: int = 1000, anchor: tuple[int, str] | None = None
) -> ChainVerification:
    """Walk the whole audit trail in ``seq`` order, ``batch_size`` rows at a time, and
    report the first altered, inserted or deleted row.

    Args:
        batch_size: rows fetched per query (memory stays constant).
        anchor: ``(seq, row_hash)`` recorded earlier (e.g. the tail printed by a previous
            verify): the row must still exist with that hash. This catches what the chain
            alone cannot: rows deleted from the end, or a history rewritten and re-hashed by
            someone with write access to the table.

    Returns:
        ``ok`` with the count and tail, or the first break (see
        :class:`~hms.audit.schemas.ChainVerification`). Reads only; writes no audit row.
    """
    await _own_rows_chained(session)
    repo = AuditRepository(session)
    walker = ChainWalker()
    after: int | None = None
    while True:
        batch = await repo.chain_batch(after, batch_size)
        found = walker.feed(batch)
        if found is not None:
            return ChainVerification(
                ok=False, checked=walker.count, last_seq=walker.last_seq,
                last_hash=walker.last_hash, kind=found.kind.value, seq=found.seq,
                missing_from=found.missing_from, missing_to=found.missing_to,
                detail=found.detail)
        if len(batch) < batch_size:
            break
        after = int(batch[-1]["seq"])
    if anchor is not None:
        seq, expected = anchor
        row = await repo.row_by_seq(seq)
        problem = None
        if row is None:
            problem = (f"anchor row {seq} is gone (the trail ends at row {walker.last_seq}): "
                       "rows were deleted")
        elif row["row_hash"] != expected.lower():
            problem = f"anchor row {seq} has another hash now: the history was rewritten"
        if problem is not None:
            return ChainVerification(
                ok=False, checked=walker.count, last_seq=walker.last_seq,
                last_hash=walker.last_hash, kind="anchor_mismatch", seq=seq, detail=problem)
    return ChainVerification(ok=True, checked=walker.count, last_seq=walker.last_seq,
                             last_hash=walker.last_hash)
