"""organization and user profile

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

Seed 004 (HCMS) section 6: ``departments`` and ``insurance_providers`` (names unique
case-insensitively through expression indexes on ``lower(name)``), and the user profile
fields ``first_name``, ``last_name``, ``phone`` and ``department_id`` (FK departments; the
existing ``department`` name column stays, kept equal to the department's name).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
    )
    op.create_index("uq_departments_lower_name", "departments", [sa.text("lower(name)")],
                    unique=True)
    op.create_table(
        "insurance_providers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact_person", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("coverage_policy", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_providers")),
    )
    op.create_index("uq_insurance_providers_lower_name", "insurance_providers",
                    [sa.text("lower(name)")], unique=True)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("first_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("last_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_department_id"), ["department_id"],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_users_department_id_departments"),
                                    "departments", ["department_id"], ["id"])


def downgrade() -> None:
    # resolve_fks=False: SQLite reflection of departments would warn about its expression
    # index (unsupported by the reflector), and the copy of users does not need it.
    with op.batch_alter_table("users", schema=None,
                              reflect_kwargs={"resolve_fks": False}) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_users_department_id_departments"),
                                 type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_users_department_id"))
        batch_op.drop_column("phone")
        batch_op.drop_column("last_name")
        batch_op.drop_column("first_name")
        batch_op.drop_column("department_id")
    op.drop_index("uq_insurance_providers_lower_name", table_name="insurance_providers")
    op.drop_table("insurance_providers")
    op.drop_index("uq_departments_lower_name", table_name="departments")
    op.drop_table("departments")
