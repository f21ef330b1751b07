"""patients hcms and medical records

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22

Seed 004 (HCMS) section 6: ``patients`` gains ``insurance_provider_id`` (FK
``insurance_providers``) and ``insurance_policy_number`` (encrypted at rest, AES-GCM text
like the other identifiers); new table ``medical_records`` (one per patient, ``patient_id``
unique, ``version`` for optimistic concurrency). Data migration: every existing patient gets
an empty medical record (new patients get theirs from ``patients.service.create_patient``).
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("insurance_provider_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("insurance_policy_number", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_patients_insurance_provider_id"),
                              ["insurance_provider_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_patients_insurance_provider_id_insurance_providers"),
                                    "insurance_providers", ["insurance_provider_id"], ["id"])
    op.create_table(
        "medical_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("blood_type", sa.String(length=3), nullable=True),
        sa.Column("allergies", sa.Text(), nullable=True),
        sa.Column("chronic_conditions", sa.Text(), nullable=True),
        sa.Column("family_medical_history", sa.Text(), nullable=True),
        sa.Column("surgical_history", sa.Text(), nullable=True),
        sa.Column("immunization_history", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_medical_records_created_by_users")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_medical_records_patient_id_patients")),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"],
                                name=op.f("fk_medical_records_updated_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medical_records")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_medical_records_patient_id")),
    )
    # Data: an empty record for every patient registered before this revision.
    bind = op.get_bind()
    patients = sa.table("patients", sa.column("id", sa.Uuid()))
    records = sa.table(
        "medical_records", sa.column("id", sa.Uuid()), sa.column("patient_id", sa.Uuid()),
        sa.column("version", sa.Integer()), sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    ids = [row[0] for row in bind.execute(sa.select(patients.c.id))]
    for start in range(0, len(ids), _BATCH):
        bind.execute(records.insert(), [
            {"id": uuid.uuid4(), "patient_id": pid, "version": 1, "created_at": now,
             "updated_at": now}
            for pid in ids[start:start + _BATCH]
        ])


def downgrade() -> None:
    op.drop_table("medical_records")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_patients_insurance_provider_id_insurance_providers"),
            type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_patients_insurance_provider_id"))
        batch_op.drop_column("insurance_policy_number")
        batch_op.drop_column("insurance_provider_id")
