"""lab tests

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22

Seed 004 ``lab_tests`` (one ordered test a row, with its result): tied to the patient, the
ordering doctor, optionally the consultation and the visit; status ordered ->
sample_collected -> in_progress -> completed, or cancelled; optimistic ``version``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lab_tests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("consultation_id", sa.Uuid(), nullable=True),
        sa.Column("visit_id", sa.Uuid(), nullable=True),
        sa.Column("ordered_by_doctor_id", sa.Uuid(), nullable=False),
        sa.Column("test_name", sa.String(length=200), nullable=False),
        sa.Column("test_type", sa.String(length=100), nullable=True),
        sa.Column("ordered_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sample_collected_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_value", sa.Text(), nullable=True),
        sa.Column("result_unit", sa.String(length=50), nullable=True),
        sa.Column("reference_range", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("cancelled_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('ordered', 'sample_collected', 'in_progress', 'completed', "
            "'cancelled')", name=op.f("ck_lab_tests_status")),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultations.id"],
                                name=op.f("fk_lab_tests_consultation_id_consultations")),
        sa.ForeignKeyConstraint(["ordered_by_doctor_id"], ["users.id"],
                                name=op.f("fk_lab_tests_ordered_by_doctor_id_users")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_lab_tests_patient_id_patients")),
        sa.ForeignKeyConstraint(["visit_id"], ["patient_visits.id"],
                                name=op.f("fk_lab_tests_visit_id_patient_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_tests")),
    )
    with op.batch_alter_table("lab_tests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lab_tests_consultation_id"), ["consultation_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_lab_tests_ordered_by_doctor_id"),
                              ["ordered_by_doctor_id"], unique=False)
        batch_op.create_index("ix_lab_tests_patient_id_ordered_date",
                              ["patient_id", "ordered_date"], unique=False)
        batch_op.create_index("ix_lab_tests_status_ordered_date", ["status", "ordered_date"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_lab_tests_visit_id"), ["visit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lab_tests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lab_tests_visit_id"))
        batch_op.drop_index("ix_lab_tests_status_ordered_date")
        batch_op.drop_index("ix_lab_tests_patient_id_ordered_date")
        batch_op.drop_index(batch_op.f("ix_lab_tests_ordered_by_doctor_id"))
        batch_op.drop_index(batch_op.f("ix_lab_tests_consultation_id"))
    op.drop_table("lab_tests")
