"""audit chain plans cached

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07

PostgreSQL only.

hms connects with ``plan_cache_mode = force_custom_plan`` (``hms.db.session``): a generic
plan cannot turn ``name_search LIKE $1`` into an index range, so every statement is planned
for its own values. The setting reached into the audit chain's trigger function too
(``hms_audit_chain_pending()``, migration 0019, run at every audited commit), whose
statements have one plan whatever the rows: its INSERT ... SELECT was planned again at
every commit, 0.15 ms of the database's time per audited request (pg_stat_statements at a
million patients, issue 5). The function now runs with the server's default
(``auto``): PL/pgSQL keeps its statements' plans for the connection's life, as it would
in any other session.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER FUNCTION hms_audit_chain_pending() SET plan_cache_mode = auto")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER FUNCTION hms_audit_chain_pending() RESET plan_cache_mode")
