"""Every SQL statement on ``audit_log``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit.chain import GENESIS_HASH, HashTemplate
from hms.audit.models import AuditEvent

#: Key of the PostgreSQL transaction-level advisory lock that serialises appends to the
#: chain (ASCII "hmsaudit" as a 64-bit integer; the same constant is in the
#: ``hms_audit_chain_tail()`` function of migration 0007). Held from a transaction's first
#: audit flush to its commit or rollback.
CHAIN_LOCK_KEY = 0x686D7361_75646974


def lock_and_read_tail(conn: Connection) -> tuple[int, str] | None:
    """Take the chain's append lock for the rest of the transaction, then read the tail:
    ``(seq, row_hash)`` of the last row, or None for an empty trail.

    PostgreSQL: one round trip, ``hms_audit_chain_tail()`` (migration 0007) runs
    ``pg_advisory_xact_lock`` and then reads the tail with a snapshot taken after the lock
    was granted (a VOLATILE function gets a new snapshot per statement under READ
    COMMITTED), so no other transaction can append between this read and the caller's
    insert. SQLite: hms opens every write transaction with ``BEGIN IMMEDIATE``, which
    serialises writers already; the tail is one probe of the unique ``seq`` index.
    """
    if conn.dialect.name == "postgresql":
        row = conn.execute(text("SELECT tail_seq, tail_hash FROM hms_audit_chain_tail()")
                           ).first()
        if row is None or row[0] is None:
            return None
        return int(row[0]), str(row[1])
    return chain_tail(conn)


#: The columns an append writes besides the chain's own three.
_EVENT_COLUMNS = ("id", "occurred_at", "user_id", "username", "action", "entity_type",
                  "entity_id", "patient_id", "changes", "ip", "user_agent", "request_id")
_SQL_TYPES = {"id": "uuid", "occurred_at": "timestamptz", "user_id": "uuid",
              "patient_id": "uuid", "changes": "json"}


#: PostgreSQL array type of each column in :func:`append_rows` (``changes`` travels as
#: JSON text: SQL NULL for no changes, as the ORM stores it).
_ARRAY_TYPES = {"id": "uuid[]", "occurred_at": "timestamptz[]", "user_id": "uuid[]",
                "patient_id": "uuid[]", "changes": "text[]"}


def _append_statement() -> Any:
    # Built once from the constants above: column names and types, never request values.
    # r: the new rows in order (ord 1..n); t: the tail, read under the chain lock; c: the
    # chain over r, each row's seq and prev_hash from the one before, hashed by finishing
    # its template (the two placeholder replacements of chain.HashTemplate, then SHA-256).
    arrays = ", ".join(f"CAST(:{c} AS {_ARRAY_TYPES.get(c, 'varchar[]')})"
                       for c in _EVENT_COLUMNS)
    finish = ("encode(sha256(convert_to(replace(replace(r.template, r.seq_target, "
              "{seq}::text), r.prev_target, {prev}), 'UTF8')), 'hex')")
    values = ", ".join("CAST(r.changes AS json)" if c == "changes" else f"r.{c}"
                       for c in _EVENT_COLUMNS)
    sql = (
        "WITH RECURSIVE r AS (SELECT * FROM unnest("  # noqa: S608
        f"{arrays}, CAST(:template AS text[]), CAST(:seq_target AS text[]), "
        "CAST(:prev_target AS text[])) WITH ORDINALITY "
        f"AS r({', '.join(_EVENT_COLUMNS)}, template, seq_target, prev_target, ord)), "
        "t AS (SELECT COALESCE(max(tail_seq), 0) AS seq, "
        "COALESCE(max(tail_hash), CAST(:genesis AS varchar)) AS prev "
        "FROM hms_audit_chain_tail()), "
        "c (ord, seq, prev, hash) AS ("
        f"SELECT r.ord, t.seq + 1, t.prev, {finish.format(seq='(t.seq + 1)', prev='t.prev')} "
        "FROM r, t WHERE r.ord = 1 "
        "UNION ALL "
        f"SELECT r.ord, c.seq + 1, c.hash, {finish.format(seq='(c.seq + 1)', prev='c.hash')} "
        "FROM c JOIN r ON r.ord = c.ord + 1) "
        f"INSERT INTO audit_log ({', '.join(_EVENT_COLUMNS)}, seq, prev_hash, row_hash) "
        f"SELECT {values}, c.seq, c.prev, c.hash FROM r JOIN c ON c.ord = r.ord "
        "ORDER BY r.ord "
        "RETURNING seq, prev_hash, row_hash")
    return text(sql)


_APPEND = _append_statement()


def _column(name: str, value: Any) -> Any:
    if name == "changes":
        return None if value is None else json.dumps(value)
    return value


def append_rows(conn: Connection, rows: Sequence[tuple[dict[str, Any], HashTemplate]]
                ) -> list[tuple[int, str, str]]:
    """PostgreSQL: a transaction's first audit rows in one round trip. Takes the chain's
    append lock and reads the tail (``hms_audit_chain_tail()``), inserts the rows after it
    in the order given and hashes each in the database from its template (SHA-256 of the
    template with ``seq`` and the previous row's hash filled in: the same bytes as
    :func:`hms.audit.chain.canonical`). Returns ``(seq, prev_hash, row_hash)`` per row, in
    the order given.

    Args:
        rows: at least one ``(values, template)``: the row's columns other than ``seq``,
            ``prev_hash`` and ``row_hash``, and :func:`hms.audit.chain.hash_template` of the
            same values.

    Raises:
        RuntimeError: the database wrote fewer rows than given (never expected; the
            transaction must not commit).
    """
    params: dict[str, Any] = {
        c: [_column(c, values.get(c)) for values, _ in rows] for c in _EVENT_COLUMNS}
    params["template"] = [t.text for _, t in rows]
    params["seq_target"] = [t.seq_target for _, t in rows]
    params["prev_target"] = [t.prev_target for _, t in rows]
    params["genesis"] = GENESIS_HASH
    out = sorted((int(seq), str(prev), str(h)) for seq, prev, h in conn.execute(_APPEND, params))
    if len(out) != len(rows):
        raise RuntimeError(f"audit append wrote {len(out)} of {len(rows)} rows")
    return out


def chain_tail(conn: Connection) -> tuple[int, str] | None:
    """``(seq, row_hash)`` of the last row, or None for an empty trail (one index probe on
    the unique ``seq`` index; no lock)."""
    row = conn.execute(
        select(AuditEvent.seq, AuditEvent.row_hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (int(row[0]), str(row[1])) if row is not None else None


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Equality and time-window filters of an audit query (None = no filter)."""

    user_id: uuid.UUID | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    patient_id: uuid.UUID | None = None
    action: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


class AuditRepository:
    """Reads of the audit trail (writes go through ``session.add`` in the service)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def _where(stmt: Any, f: EventFilter) -> Any:
        if f.user_id is not None:
            stmt = stmt.where(AuditEvent.user_id == f.user_id)
        if f.entity_type is not None:
            stmt = stmt.where(AuditEvent.entity_type == f.entity_type)
        if f.entity_id is not None:
            stmt = stmt.where(AuditEvent.entity_id == f.entity_id)
        if f.patient_id is not None:
            stmt = stmt.where(AuditEvent.patient_id == f.patient_id)
        if f.action is not None:
            stmt = stmt.where(AuditEvent.action == f.action)
        if f.occurred_from is not None:
            stmt = stmt.where(AuditEvent.occurred_at >= f.occurred_from)
        if f.occurred_to is not None:
            stmt = stmt.where(AuditEvent.occurred_at < f.occurred_to)
        return stmt

    async def page_by_seq(
        self, f: EventFilter, *, before_seq: int | None, limit: int
    ) -> Sequence[AuditEvent]:
        """Up to ``limit`` matching rows, newest (highest ``seq``) first, all below
        ``before_seq`` when given (keyset pagination: no OFFSET, no count)."""
        stmt = self._where(select(AuditEvent), f)
        if before_seq is not None:
            stmt = stmt.where(AuditEvent.seq < before_seq)
        stmt = stmt.order_by(AuditEvent.seq.desc()).limit(limit)
        return (await self.session.scalars(stmt)).all()

    async def newest(self, f: EventFilter, *, limit: int) -> Sequence[AuditEvent]:
        """Up to ``limit`` matching rows, newest first by time."""
        stmt = self._where(select(AuditEvent), f)
        stmt = stmt.order_by(AuditEvent.occurred_at.desc(), AuditEvent.seq.desc()).limit(limit)
        return (await self.session.scalars(stmt)).all()

    async def count(self, **equal: Any) -> int:
        """Rows whose columns equal the given values."""
        stmt = select(func.count()).select_from(AuditEvent)
        for key, value in equal.items():
            stmt = stmt.where(getattr(AuditEvent, key) == value)
        return int((await self.session.scalar(stmt)) or 0)

    async def chain_batch(self, after_seq: int | None, limit: int) -> list[dict[str, Any]]:
        """The next ``limit`` rows after ``after_seq`` in ``seq`` order, as plain dicts of
        the columns (for :class:`hms.audit.chain.ChainWalker`)."""
        table = AuditEvent.__table__
        stmt = select(table).order_by(table.c.seq).limit(limit)
        if after_seq is not None:
            stmt = stmt.where(table.c.seq > after_seq)
        result = await self.session.execute(stmt)
        return [dict(r._mapping) for r in result]

    async def row_by_seq(self, seq: int) -> dict[str, Any] | None:
        """The row with that ``seq`` as a dict, or None."""
        table = AuditEvent.__table__
        result = await self.session.execute(select(table).where(table.c.seq == seq))
        row = result.first()
        return dict(row._mapping) if row is not None else None
