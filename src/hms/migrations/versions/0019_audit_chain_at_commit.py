"""audit chain at commit

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

PostgreSQL only (SQLite's ``BEGIN IMMEDIATE`` already serialises writers, and nothing
changes there).

Until this revision a transaction's first audit flush took the chain's append lock
(``hms_audit_chain_tail()``, revision 0007) and held it to COMMIT: across at least one more
client round trip, from an application process whose event loop was busy with other
requests. Under load every audited request queued behind that lock (issue 5:
``pg_stat_activity`` showed most backends waiting on it while its holder sat "idle in
transaction").

Now a flush only queues its rows: one row of column arrays in ``audit_pending`` (UNLOGGED:
its rows live and die inside one transaction, so they need no WAL). A deferred constraint
trigger chains them when the transaction commits, inside the COMMIT itself: it takes the
append lock, reads the tail, inserts and hashes the rows into ``audit_log`` in the order
they were queued (the statement ``hms.audit.repository`` used to send, unchanged: the same
hash) and deletes the queue row. The lock is now held only for that server-side work and
the commit's WAL flush, never across a round trip. A rolled-back transaction or savepoint
takes its queued rows and their trigger events with it, so the chain has no holes.
``SET CONSTRAINTS audit_pending_chain IMMEDIATE`` chains whatever is queued at once (the
audit module does so before it reads the trail, so a transaction sees its own rows).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = """
CREATE UNLOGGED TABLE audit_pending (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id uuid[] NOT NULL,
    occurred_at timestamptz[] NOT NULL,
    user_id uuid[] NOT NULL,
    username varchar[] NOT NULL,
    action varchar[] NOT NULL,
    entity_type varchar[] NOT NULL,
    entity_id varchar[] NOT NULL,
    patient_id uuid[] NOT NULL,
    changes text[] NOT NULL,
    ip varchar[] NOT NULL,
    user_agent varchar[] NOT NULL,
    request_id varchar[] NOT NULL,
    template text[] NOT NULL,
    seq_target text[] NOT NULL,
    prev_target text[] NOT NULL
)
"""
# r: the queued rows in order (ord 1..n); t: the tail, read under the chain lock
# (hms_audit_chain_tail(), revision 0007); c: the chain over r, each row's seq and prev_hash
# from the one before, hashed by finishing its template (hms.audit.chain.HashTemplate: the
# two placeholder replacements, then SHA-256 of the ASCII bytes).
_FUNCTION = """
CREATE FUNCTION hms_audit_chain_pending() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
BEGIN
    WITH RECURSIVE r AS (
        SELECT * FROM unnest(NEW.event_id, NEW.occurred_at, NEW.user_id, NEW.username,
                             NEW.action, NEW.entity_type, NEW.entity_id, NEW.patient_id,
                             NEW.changes, NEW.ip, NEW.user_agent, NEW.request_id,
                             NEW.template, NEW.seq_target, NEW.prev_target)
            WITH ORDINALITY AS r(id, occurred_at, user_id, username, action, entity_type,
                                 entity_id, patient_id, changes, ip, user_agent, request_id,
                                 template, seq_target, prev_target, ord)
    ), t AS (
        SELECT COALESCE(max(tail_seq), 0) AS seq,
               COALESCE(max(tail_hash), repeat('0', 64)::varchar) AS prev
        FROM hms_audit_chain_tail()
    ), c (ord, seq, prev, hash) AS (
        SELECT r.ord, t.seq + 1, t.prev,
               encode(sha256(convert_to(replace(replace(r.template, r.seq_target,
                   (t.seq + 1)::text), r.prev_target, t.prev), 'UTF8')), 'hex')
        FROM r, t WHERE r.ord = 1
        UNION ALL
        SELECT r.ord, c.seq + 1, c.hash,
               encode(sha256(convert_to(replace(replace(r.template, r.seq_target,
                   (c.seq + 1)::text), r.prev_target, c.hash), 'UTF8')), 'hex')
        FROM c JOIN r ON r.ord = c.ord + 1
    )
    INSERT INTO audit_log (id, occurred_at, user_id, username, action, entity_type,
                           entity_id, patient_id, changes, ip, user_agent, request_id,
                           seq, prev_hash, row_hash)
    SELECT r.id, r.occurred_at, r.user_id, r.username, r.action, r.entity_type,
           r.entity_id, r.patient_id, CAST(r.changes AS json), r.ip, r.user_agent,
           r.request_id, c.seq, c.prev, c.hash
    FROM r JOIN c ON c.ord = r.ord
    ORDER BY r.ord;
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written <> cardinality(NEW.event_id) THEN
        RAISE EXCEPTION 'audit chain wrote % of % queued rows', written,
            cardinality(NEW.event_id);
    END IF;
    DELETE FROM audit_pending WHERE id = NEW.id;
    RETURN NULL;
END;
$$
"""
_TRIGGER = """
CREATE CONSTRAINT TRIGGER audit_pending_chain
    AFTER INSERT ON audit_pending
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION hms_audit_chain_pending()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_TABLE)
    op.execute(_FUNCTION)
    op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_pending_chain ON audit_pending")
    op.execute("DROP FUNCTION IF EXISTS hms_audit_chain_pending()")
    op.execute("DROP TABLE IF EXISTS audit_pending")
