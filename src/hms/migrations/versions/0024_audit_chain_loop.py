"""audit chain in a loop

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07

PostgreSQL only.

The chaining trigger (``hms_audit_chain_pending()``, migration 0019) hashed the queued rows
in a recursive CTE: each step joined the chain so far back to the unnested queue to find
the next row, and the INSERT joined the two again. Now a PL/pgSQL loop walks the queue's
arrays once (row ``i``'s ``seq`` is the tail's plus ``i``, its ``prev_hash`` the hash just
computed) and one INSERT unnests the columns with the three computed arrays. The bytes
hashed and the rows written are the same (hms.audit.chain.HashTemplate; checked against
the CTE on the same queue and tail), so the chain and ``hms audit verify`` are unchanged.

Why: the trigger runs under the chain's append lock, at every audited commit; a name
search's page queues 21 rows. Measured 2026-12-07 with pgbench (one client, each
transaction one queue INSERT and its commit, 2-core host, database otherwise idle; three
alternating pairs of 8 s): 21 rows 1.55-1.85 -> 1.46-1.49 ms a transaction, one row
0.77-0.78 -> 0.71-0.73 ms (bench/README.md, "Fourteenth pass").

The function keeps migration 0023's ``plan_cache_mode = auto`` (``CREATE OR REPLACE``
resets a function's settings, so it is part of the definition here).
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# templates/seq_targets/prev_targets are copied into variables once: PL/pgSQL then
# subscripts them in memory instead of reading the (possibly compressed) column per row.
_FUNCTION = """
CREATE OR REPLACE FUNCTION hms_audit_chain_pending() RETURNS trigger
LANGUAGE plpgsql SET plan_cache_mode = auto AS $$
DECLARE
    templates text[] := NEW.template;
    seq_targets text[] := NEW.seq_target;
    prev_targets text[] := NEW.prev_target;
    n integer := cardinality(NEW.event_id);
    seqs bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    prevs varchar[] := array_fill(NULL::varchar, ARRAY[n]);
    hashes varchar[] := array_fill(NULL::varchar, ARRAY[n]);
    seq bigint;
    hash varchar;
    written bigint;
BEGIN
    IF cardinality(templates) <> n OR cardinality(seq_targets) <> n
            OR cardinality(prev_targets) <> n THEN
        RAISE EXCEPTION 'audit chain: % queued rows but % hash templates (% seq and % prev '
            'targets)', n, cardinality(templates), cardinality(seq_targets),
            cardinality(prev_targets);
    END IF;
    SELECT COALESCE(max(tail_seq), 0), COALESCE(max(tail_hash), repeat('0', 64)::varchar)
        INTO seq, hash
        FROM hms_audit_chain_tail();
    FOR i IN 1 .. n LOOP
        seq := seq + 1;
        seqs[i] := seq;
        prevs[i] := hash;
        hash := encode(sha256(convert_to(replace(replace(templates[i], seq_targets[i],
                    seq::text), prev_targets[i], hash), 'UTF8')), 'hex');
        hashes[i] := hash;
    END LOOP;
    INSERT INTO audit_log (id, occurred_at, user_id, username, action, entity_type,
                           entity_id, patient_id, changes, ip, user_agent, request_id,
                           seq, prev_hash, row_hash)
    SELECT r.id, r.occurred_at, r.user_id, r.username, r.action, r.entity_type,
           r.entity_id, r.patient_id, CAST(r.changes AS json), r.ip, r.user_agent,
           r.request_id, r.seq, r.prev, r.hash
    FROM unnest(NEW.event_id, NEW.occurred_at, NEW.user_id, NEW.username, NEW.action,
                NEW.entity_type, NEW.entity_id, NEW.patient_id, NEW.changes, NEW.ip,
                NEW.user_agent, NEW.request_id, seqs, prevs, hashes)
        WITH ORDINALITY AS r(id, occurred_at, user_id, username, action, entity_type,
                             entity_id, patient_id, changes, ip, user_agent, request_id,
                             seq, prev, hash, ord)
    ORDER BY r.ord;
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written <> n THEN
        RAISE EXCEPTION 'audit chain wrote % of % queued rows', written, n;
    END IF;
    DELETE FROM audit_pending WHERE id = NEW.id;
    RETURN NULL;
END;
$$
"""


def _revision_0019_function() -> str:
    """Migration 0019's function text (one copy of it: loaded from that revision)."""
    path = Path(__file__).with_name("0019_audit_chain_at_commit.py")
    spec = importlib.util.spec_from_file_location("hms_migration_0019", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module._FUNCTION).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_revision_0019_function())
    op.execute("ALTER FUNCTION hms_audit_chain_pending() SET plan_cache_mode = auto")
