"""hcms reports

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22

Seed 004 ``reports``: a generated report file (seven report types over a date range, PDF or
XLSX) with its status generating -> completed | failed, the user who asked for it, the
stored file's generated name, and the reason of a failure.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_name", sa.String(length=200), nullable=False),
        sa.Column("report_type", sa.String(length=40), nullable=False),
        sa.Column("generated_by_user_id", sa.Uuid(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("file_path", sa.String(length=100), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "report_type IN ('patient_statistics', 'revenue', 'appointment_summary', "
            "'service_utilization', 'doctor_performance', 'billing_summary', "
            "'operational_metrics')", name=op.f("ck_reports_report_type")),
        sa.CheckConstraint("status IN ('generating', 'completed', 'failed')",
                           name=op.f("ck_reports_status")),
        sa.CheckConstraint("format IN ('pdf', 'xlsx')", name=op.f("ck_reports_format")),
        sa.CheckConstraint(
            "start_date IS NULL OR end_date IS NULL OR start_date <= end_date",
            name=op.f("ck_reports_date_range")),
        sa.ForeignKeyConstraint(["generated_by_user_id"], ["users.id"],
                                name=op.f("fk_reports_generated_by_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index("ix_reports_generated_by_user_id_created_at",
                              ["generated_by_user_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_status"))
        batch_op.drop_index("ix_reports_generated_by_user_id_created_at")
    op.drop_table("reports")
