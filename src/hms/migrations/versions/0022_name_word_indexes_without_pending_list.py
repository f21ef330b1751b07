"""name word indexes without a pending list

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07

PostgreSQL only (SQLite has no GIN indexes).

A GIN index collects new entries in a "pending list" (``fastupdate``, on by default) and
merges them into the index only at VACUUM, at ANALYZE or when the list outgrows
``gin_pending_list_limit`` (4 MB). Every search through the index reads the whole list.
A desk registering patients all day filled the name-word index's list faster than
autovacuum emptied it (at 1,000,000 patients autovacuum waits for 200,000 inserts): after
3,359 registrations (one 20-second benchmark window) the capped count of an "ahmed moh"
search took 2.5 ms instead of 1.6 (issue 5), and a full list would add tens of
milliseconds to every name search until the next vacuum. Without the list, a registration
writes its three or four name words into the index directly (a few page updates), and a
search's cost no longer depends on how long ago the last vacuum ran.

The upgrade also merges what is pending now (``gin_clean_pending_list``).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The GIN indexes name search reads (migration 0016): patients' name words, and the
#: trigram index of the dictionary of those words.
INDEXES = ("ix_patients_name_words", "ix_patient_name_words_trgm")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('{name}'::regclass)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"ALTER INDEX {name} RESET (fastupdate)")
