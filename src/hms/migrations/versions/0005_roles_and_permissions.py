"""roles and permissions: roles as data, permission scopes, user departments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

Roles become data (seed 003 4.3/4.4): ``roles`` and ``role_permissions`` hold the permission
strings ``resource:action[:scope]`` of each role, seeded with the bundles the code had when
this revision was written (nurse, physician and admin at ``:all``, so nothing changes for
them). ``permission_catalogue`` lists the ``resource:action`` pairs this database knows;
permissions the code adds later are granted to their default roles by ``hms migrate``
(hms.identity.roles.sync_permission_catalogue). Users get a ``department`` for
``:department`` scopes. ``users.role`` references ``roles.name`` on PostgreSQL (SQLite cannot
add a constraint to an existing, referenced table without rebuilding it).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import uuid4

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of hms.core.permissions at this revision: migrations never import app code.
_CATALOGUE = (
    "patient:read", "patient:write", "visit:read", "visit:create", "visit:update",
    "diagnosis:write", "form:read", "nursing_assessment:write", "radiology_assessment:write",
    "document:read", "document:write", "report:read", "user:manage", "role:manage",
    "audit:read",
)
_SCOPABLE = {"patient:read", "visit:read"}
_CLINICAL_READ = ("patient:read", "visit:read", "form:read", "document:read")
_BUNDLES: dict[str, tuple[str, ...]] = {
    "super_admin": _CATALOGUE,
    "admin": _CATALOGUE,
    "physician": (*_CLINICAL_READ, "visit:update", "diagnosis:write",
                  "radiology_assessment:write"),
    "nurse": (*_CLINICAL_READ, "patient:write", "visit:create", "visit:update",
              "nursing_assessment:write", "document:write"),
    "receptionist": (),
    "pharmacist": (),
    "lab_technician": (),
    "billing_officer": (),
    "patient": (),
}
_DESCRIPTIONS = {
    "super_admin": "Everything, including roles and users",
    "admin": "Full system access, user management, reports (seed 000)",
    "physician": "View open visits, complete radiology forms, update diagnoses (seed 000)",
    "nurse": "Register patients, open visits, nursing assessments, upload documents (seed 000)",
    "receptionist": "Front desk (permissions arrive with scheduling)",
    "pharmacist": "Pharmacy (permissions arrive with the pharmacy module)",
    "lab_technician": "Laboratory (permissions arrive with the lab module)",
    "billing_officer": "Billing (alias accountant; permissions arrive with billing)",
    "patient": "Patient portal (permissions arrive with the portal)",
}


def _grant(permission: str) -> str:
    return f"{permission}:all" if permission in _SCOPABLE else permission


def upgrade() -> None:
    now = datetime.now(UTC)
    roles = op.create_table(
        "roles",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=400), nullable=True),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("permissions_revision", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_roles")),
    )
    role_permissions = op.create_table(
        "role_permissions",
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("permission", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["role"], ["roles.name"],
                                name=op.f("fk_role_permissions_role_roles"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("role", "permission", name=op.f("pk_role_permissions")),
    )
    catalogue = op.create_table(
        "permission_catalogue",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_permission_catalogue")),
    )
    op.bulk_insert(roles, [
        {"name": name, "description": _DESCRIPTIONS[name], "is_system": True,
         "permissions_revision": uuid4().hex, "created_at": now, "updated_at": now}
        for name in _BUNDLES
    ])
    op.bulk_insert(role_permissions, [
        {"role": name, "permission": _grant(p)} for name, perms in _BUNDLES.items() for p in perms
    ])
    op.bulk_insert(catalogue, [{"name": p, "added_at": now} for p in _CATALOGUE])

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department", sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_department"), ["department"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(op.f("fk_users_role_roles"), "users", "roles", ["role"], ["name"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("fk_users_role_roles"), "users", type_="foreignkey")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_department"))
        batch_op.drop_column("department")
    op.drop_table("permission_catalogue")
    op.drop_table("role_permissions")
    op.drop_table("roles")
