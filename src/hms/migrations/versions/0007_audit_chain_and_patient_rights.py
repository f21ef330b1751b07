"""audit chain and patient rights

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

Tamper-evident audit trail: ``audit_log`` gets ``seq``, ``prev_hash`` and ``row_hash``
(hms.audit.chain); existing rows are chained in (occurred_at, id) order. On PostgreSQL a
statement trigger refuses UPDATE, DELETE and TRUNCATE of ``audit_log`` (there is no escape
hatch in the function: only the table owner can ``ALTER TABLE audit_log DISABLE TRIGGER``,
which the test suite does to wipe its database).

Patient rights: ``legal_holds`` and ``erasure_requests`` (hms.privacy), ``patients.erased_at``
and ``visit_documents.file_erased_at``.
"""

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of hms.audit.chain (version 1) at this revision: migrations never import app
# code. tests/audit/test_chain.py checks that rows chained here verify with the app's code.
_GENESIS = "0" * 64
_HASHED = ("seq", "id", "occurred_at", "user_id", "username", "action", "entity_type",
           "entity_id", "patient_id", "changes", "ip", "user_agent", "request_id")
_BATCH = 5000

_TRIGGER_FUNCTION = """
CREATE FUNCTION hms_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit rows are never changed or deleted (hms.audit)';
END;
$$
"""
# One round trip per transaction for the chain's writers (hms.audit.repository): take the
# append lock (the advisory key is ASCII "hmsaudit"), then read the tail with a snapshot
# taken after the lock was granted (VOLATILE: a new snapshot per statement).
_CHAIN_LOCK_KEY = 0x686D7361_75646974  # = 7524797414824503668, written out below
_TAIL_FUNCTION = """
CREATE FUNCTION hms_audit_chain_tail() RETURNS TABLE (tail_seq bigint, tail_hash varchar)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7524797414824503668);
    RETURN QUERY SELECT a.seq, a.row_hash FROM audit_log AS a ORDER BY a.seq DESC LIMIT 1;
END;
$$
"""
_TRIGGER = """
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION hms_audit_log_append_only()
"""


def _text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def _row_hash(row: dict[str, Any], prev_hash: str) -> str:
    doc = {name: _text(row.get(name)) for name in _HASHED}
    doc["prev_hash"] = prev_hash
    doc["v"] = 1
    data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      default=str).encode("ascii")
    return hashlib.sha256(data).hexdigest()


_audit = sa.table(
    "audit_log",
    sa.column("id", sa.Uuid()),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("user_id", sa.Uuid()),
    sa.column("username", sa.String()),
    sa.column("action", sa.String()),
    sa.column("entity_type", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("patient_id", sa.Uuid()),
    sa.column("changes", sa.JSON()),
    sa.column("ip", sa.String()),
    sa.column("user_agent", sa.String()),
    sa.column("request_id", sa.String()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("row_hash", sa.String()),
)


def _chain_existing_rows() -> None:
    """Give every existing audit row its place in the chain, oldest first."""
    bind = op.get_bind()
    seq, prev = 0, _GENESIS
    last: tuple[Any, Any] | None = None
    while True:
        stmt = sa.select(_audit).order_by(_audit.c.occurred_at, _audit.c.id).limit(_BATCH)
        if last is not None:
            stmt = stmt.where(sa.or_(
                _audit.c.occurred_at > last[0],
                sa.and_(_audit.c.occurred_at == last[0], _audit.c.id > last[1])))
        rows = [dict(r._mapping) for r in bind.execute(stmt)]
        if not rows:
            return
        updates = []
        for row in rows:
            seq += 1
            row["seq"] = seq
            digest = _row_hash(row, prev)
            updates.append({"b_id": row["id"], "seq": seq, "prev_hash": prev,
                            "row_hash": digest})
            prev = digest
        bind.execute(
            _audit.update().where(_audit.c.id == sa.bindparam("b_id"))
            .values(seq=sa.bindparam("seq"), prev_hash=sa.bindparam("prev_hash"),
                    row_hash=sa.bindparam("row_hash")),
            updates,
        )
        last = (rows[-1]["occurred_at"], rows[-1]["id"])


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
    _chain_existing_rows()
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("row_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_log_seq"), ["seq"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_TRIGGER_FUNCTION)
        op.execute(_TRIGGER)
        op.execute(_TAIL_FUNCTION)

    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("visit_documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_erased_at", sa.DateTime(timezone=True),
                                      nullable=True))

    op.create_table(
        "legal_holds",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("set_by", sa.Uuid(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_legal_holds_patient_id_patients")),
        sa.ForeignKeyConstraint(["set_by"], ["users.id"],
                                name=op.f("fk_legal_holds_set_by_users")),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_legal_holds")),
    )
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by_patient", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("last_visit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("earliest_erasure_date", sa.Date(), nullable=True),
        sa.Column("retention_years", sa.Integer(), nullable=False),
        sa.Column("documents_erased", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_erasure_requests_patient_id_patients")),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"],
                                name=op.f("fk_erasure_requests_requested_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
    )
    with op.batch_alter_table("erasure_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasure_requests_patient_id"), ["patient_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_erasure_requests_requested_at"),
                              ["requested_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("erasure_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasure_requests_requested_at"))
        batch_op.drop_index(batch_op.f("ix_erasure_requests_patient_id"))
    op.drop_table("erasure_requests")
    op.drop_table("legal_holds")
    with op.batch_alter_table("visit_documents", schema=None) as batch_op:
        batch_op.drop_column("file_erased_at")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("erased_at")

    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS hms_audit_chain_tail()")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS hms_audit_log_append_only()")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_log_seq"), type_="unique")
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
