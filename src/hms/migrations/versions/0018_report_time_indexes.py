"""report time indexes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06

The dashboard and the reports count rows by time ("registered today", "visits started in
the last 7 days", "forms submitted today", ...). Without an index on those times every
count read whole tables: about 4 s of database time per dashboard at 1,000,000 patients,
which each server process spent every 30 s and which stalled every other request on a
2-core server (issue 5, 10-minute mixed run). These btrees turn each count into an index
range scan (index-only once vacuumed): patients by (is_active, created_at), visits by
started_at and by (status, ended_at), form submissions by submitted_at, vital signs by
recorded_at, documents by uploaded_at.

On a large live database, build them beforehand with ``CREATE INDEX CONCURRENTLY`` under
the same names; this revision then skips the ones that exist.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (index, table, columns)
INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ix_patients_is_active_created_at", "patients", ("is_active", "created_at")),
    ("ix_patient_visits_started_at", "patient_visits", ("started_at",)),
    ("ix_patient_visits_status_ended_at", "patient_visits", ("status", "ended_at")),
    ("ix_form_submissions_submitted_at", "form_submissions", ("submitted_at",)),
    ("ix_vital_signs_recorded_at", "vital_signs", ("recorded_at",)),
    ("ix_visit_documents_uploaded_at", "visit_documents", ("uploaded_at",)),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})")


def downgrade() -> None:
    for name, _table, _columns in reversed(INDEXES):
        op.execute(f"DROP INDEX IF EXISTS {name}")
