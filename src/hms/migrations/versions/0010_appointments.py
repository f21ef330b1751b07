"""appointments

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22

Seed 004 (HCMS) section 6 ``appointments`` plus ``starts_at``/``ends_at`` (the UTC interval
of date + time + duration), ``visit_id`` (the visit opened at check-in), workflow
timestamps, ``cancelled_reason`` and ``version``. On PostgreSQL the rule "same doctor cannot
have overlapping appointments" (HCMS 11.2) is enforced by the database: an exclusion
constraint over ``tstzrange(starts_at, ends_at)`` (btree_gist for the ``doctor_id =`` part),
ignoring cancelled and no-show appointments. SQLite serialises writers (BEGIN IMMEDIATE) so
the service's check-then-insert is enough there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OVERLAP_CONSTRAINT = "ex_appointments_doctor_no_overlap"


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=True),
        sa.Column("appointment_date", sa.Date(), nullable=False),
        sa.Column("appointment_time", sa.Time(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("appointment_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("cancelled_reason", sa.Text(), nullable=True),
        sa.Column("visit_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consultation_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("duration_minutes BETWEEN 15 AND 480",
                           name=op.f("ck_appointments_duration_minutes_range")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_appointments_ends_after_start")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_appointments_patient_id_patients")),
        sa.ForeignKeyConstraint(["doctor_id"], ["users.id"],
                                name=op.f("fk_appointments_doctor_id_users")),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_appointments_department_id_departments")),
        sa.ForeignKeyConstraint(["visit_id"], ["patient_visits.id"],
                                name=op.f("fk_appointments_visit_id_patient_visits")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_appointments_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointments_department_id"), ["department_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_appointments_visit_id"), ["visit_id"],
                              unique=False)
        batch_op.create_index("ix_appointments_doctor_id_starts_at",
                              ["doctor_id", "starts_at"], unique=False)
        batch_op.create_index("ix_appointments_patient_id_starts_at",
                              ["patient_id", "starts_at"], unique=False)
        batch_op.create_index("ix_appointments_status_appointment_date",
                              ["status", "appointment_date"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # tstzrange(timestamptz, timestamptz) is IMMUTABLE, so it may appear in the
        # constraint; '[)' makes back-to-back slots (09:00-09:30, 09:30-10:00) compatible.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            f"ALTER TABLE appointments ADD CONSTRAINT {OVERLAP_CONSTRAINT} "
            "EXCLUDE USING gist (doctor_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
            "WHERE (status NOT IN ('cancelled', 'no_show'))"
        )


def downgrade() -> None:
    # The btree_gist extension stays: other objects may use it and it holds no data.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE appointments DROP CONSTRAINT IF EXISTS {OVERLAP_CONSTRAINT}")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_status_appointment_date")
        batch_op.drop_index("ix_appointments_patient_id_starts_at")
        batch_op.drop_index("ix_appointments_doctor_id_starts_at")
        batch_op.drop_index(batch_op.f("ix_appointments_visit_id"))
        batch_op.drop_index(batch_op.f("ix_appointments_department_id"))
    op.drop_table("appointments")
