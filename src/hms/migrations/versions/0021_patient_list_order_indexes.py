"""patient list order indexes

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06

``GET /patients`` pages through every patient by ``full_name`` (its default order) or by
``created_at`` (newest registrations first), then ``id``. Without an index on those keys
each page sorted the whole table: 600-700 ms a page at 1,000,000 patients (issue 5). With
these btrees a page is an index range of ``page_size`` rows (the total is still counted).

On a large live database, build them beforehand with ``CREATE INDEX CONCURRENTLY`` under
the same names; this revision then skips the ones that exist.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (index, columns)
INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_patients_full_name_id", ("full_name", "id")),
    ("ix_patients_created_at_id", ("created_at", "id")),
)


def upgrade() -> None:
    for name, columns in INDEXES:
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON patients ({', '.join(columns)})")


def downgrade() -> None:
    for name, _columns in reversed(INDEXES):
        op.execute(f"DROP INDEX IF EXISTS {name}")
