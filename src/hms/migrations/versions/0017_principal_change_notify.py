"""principal change notifications

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

Issue 5 (per-request authentication cost): each worker caches the principal a bearer token
resolves to and must forget it the moment the account, the login session or a role
changes. On PostgreSQL, triggers on ``users``, ``sessions``, ``roles`` and
``role_permissions`` send ``NOTIFY hms_principal`` with the user's id (users, sessions) or
``*`` (a role's grants: every cached principal). NOTIFY is transactional: it is delivered
at commit and never for a rolled-back change. The triggers catch every writer, the CLI and
hand-written SQL included. SQLite has no NOTIFY; hms does not cache principals there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: table -> the payload expression (row-level AFTER UPDATE OR DELETE trigger).
_TABLES = {
    "users": "COALESCE(NEW.id, OLD.id)::text",
    "sessions": "COALESCE(NEW.user_id, OLD.user_id)::text",
    "roles": "'*'",
    "role_permissions": "'*'",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, payload in _TABLES.items():
        op.execute(f"""
            CREATE FUNCTION hms_notify_principal_{table}() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('hms_principal', {payload});
                RETURN NULL;
            END $$""")
        op.execute(f"CREATE TRIGGER trg_{table}_notify_principal "
                   f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION hms_notify_principal_{table}()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_notify_principal ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS hms_notify_principal_{table}()")
