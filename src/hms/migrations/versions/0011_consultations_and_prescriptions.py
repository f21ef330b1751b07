"""consultations and prescriptions

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22

Seed 004 clinical tables: ``consultations`` (one per appointment, tied to the visit opened at
check-in; status in_progress -> completed, optimistic ``version``) and ``prescriptions`` (one
drug a row). ``vital_signs`` gains ``notes``, ``appointment_id`` and ``created_at`` /
``updated_at`` (back-filled from ``recorded_at``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vital_signs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("appointment_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_vital_signs_appointment_id_appointments"),
                                    "appointments", ["appointment_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_vital_signs_appointment_id"), ["appointment_id"],
                              unique=False)
    op.execute("UPDATE vital_signs SET created_at = recorded_at, updated_at = recorded_at")
    with op.batch_alter_table("vital_signs", schema=None) as batch_op:
        batch_op.alter_column("created_at", existing_type=sa.DateTime(timezone=True),
                              nullable=False)
        batch_op.alter_column("updated_at", existing_type=sa.DateTime(timezone=True),
                              nullable=False)

    op.create_table(
        "consultations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("visit_id", sa.Uuid(), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("consultation_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chief_complaint", sa.Text(), nullable=True),
        sa.Column("present_illness", sa.Text(), nullable=True),
        sa.Column("examination_findings", sa.Text(), nullable=True),
        sa.Column("diagnosis", sa.Text(), nullable=True),
        sa.Column("treatment_plan", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("follow_up_required", sa.Boolean(), nullable=False),
        sa.Column("follow_up_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointments.id"],
                                name=op.f("fk_consultations_appointment_id_appointments")),
        sa.ForeignKeyConstraint(["doctor_id"], ["users.id"],
                                name=op.f("fk_consultations_doctor_id_users")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_consultations_patient_id_patients")),
        sa.ForeignKeyConstraint(["visit_id"], ["patient_visits.id"],
                                name=op.f("fk_consultations_visit_id_patient_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultations")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_consultations_appointment_id")),
    )
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.create_index("ix_consultations_doctor_id_consultation_date",
                              ["doctor_id", "consultation_date"], unique=False)
        batch_op.create_index("ix_consultations_patient_id_consultation_date",
                              ["patient_id", "consultation_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_consultations_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_consultations_visit_id"), ["visit_id"],
                              unique=False)

    op.create_table(
        "prescriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("medication_name", sa.String(length=200), nullable=False),
        sa.Column("dosage", sa.String(length=100), nullable=False),
        sa.Column("frequency", sa.String(length=100), nullable=False),
        sa.Column("duration", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("route", sa.String(length=50), nullable=True),
        sa.Column("special_instructions", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("prescribed_date", sa.Date(), nullable=False),
        sa.Column("allergy_override", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultations.id"],
                                name=op.f("fk_prescriptions_consultation_id_consultations")),
        sa.ForeignKeyConstraint(["doctor_id"], ["users.id"],
                                name=op.f("fk_prescriptions_doctor_id_users")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_prescriptions_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prescriptions")),
    )
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prescriptions_consultation_id"),
                              ["consultation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_prescriptions_doctor_id"), ["doctor_id"],
                              unique=False)
        batch_op.create_index("ix_prescriptions_patient_id_is_active",
                              ["patient_id", "is_active"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_prescriptions_patient_id_is_active")
        batch_op.drop_index(batch_op.f("ix_prescriptions_doctor_id"))
        batch_op.drop_index(batch_op.f("ix_prescriptions_consultation_id"))
    op.drop_table("prescriptions")

    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultations_visit_id"))
        batch_op.drop_index(batch_op.f("ix_consultations_status"))
        batch_op.drop_index("ix_consultations_patient_id_consultation_date")
        batch_op.drop_index("ix_consultations_doctor_id_consultation_date")
    op.drop_table("consultations")

    with op.batch_alter_table("vital_signs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vital_signs_appointment_id"))
        batch_op.drop_constraint(batch_op.f("fk_vital_signs_appointment_id_appointments"),
                                 type_="foreignkey")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("created_at")
        batch_op.drop_column("appointment_id")
        batch_op.drop_column("notes")
