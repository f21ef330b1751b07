"""hcms role grants

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22

Seed 004 (HCMS 11) gives the front desk, billing and the laboratory rights on resources that
existed before it: a receptionist registers and reads patients (with full identifiers, to
check papers at the desk), a billing officer and a lab technician read basic patient
information. New permissions reach their default roles through the permission catalogue
(hms.identity.roles.sync_permission_catalogue) but permissions already catalogued do not, so
this revision grants them once. Role descriptions now say what each role does.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GRANTS = {
    "receptionist": ("patient:read:all", "patient:write", "patient:read_identifiers"),
    "billing_officer": ("patient:read:all",),
    "lab_technician": ("patient:read:all",),
}
_DESCRIPTIONS = {
    "receptionist": ("Front desk: patient registration, appointments, check-in; no medical "
                     "records, no billing (seed 004)"),
    "billing_officer": ("Invoices, payments, billing reports; no medical records (seed 004; "
                        "alias accountant)"),
    "lab_technician": "Laboratory: sample collection, processing, results (seed 004 lab staff)",
    "physician": ("Open visits, radiology forms, diagnoses (seed 000); consultations, "
                  "prescriptions, lab orders, medical records (seed 004)"),
    "nurse": ("Register patients, open visits, nursing assessments, documents (seed 000); "
              "vital signs, appointments (seed 004)"),
}
_OLD_DESCRIPTIONS = {
    "receptionist": "Front desk (permissions arrive with scheduling)",
    "billing_officer": "Billing (alias accountant; permissions arrive with billing)",
    "lab_technician": "Laboratory (permissions arrive with the lab module)",
    "physician": "View open visits, complete radiology forms, update diagnoses (seed 000)",
    "nurse": ("Register patients, open visits, nursing assessments, upload documents "
              "(seed 000)"),
}

roles = sa.table("roles", sa.column("name", sa.String), sa.column("description", sa.String))
grants = sa.table("role_permissions", sa.column("role", sa.String),
                  sa.column("permission", sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    present = {r for (r,) in bind.execute(sa.select(roles.c.name))}
    held = {(r, p) for r, p in bind.execute(sa.select(grants.c.role, grants.c.permission))}
    rows = [{"role": role, "permission": perm} for role, perms in _GRANTS.items()
            if role in present for perm in perms if (role, perm) not in held]
    if rows:
        op.bulk_insert(grants, rows)
    for name, text in _DESCRIPTIONS.items():
        op.execute(roles.update().where(roles.c.name == name).values(description=text))


def downgrade() -> None:
    for role, perms in _GRANTS.items():
        op.execute(grants.delete().where(grants.c.role == role,
                                         grants.c.permission.in_(perms)))
    for name, text in _OLD_DESCRIPTIONS.items():
        op.execute(roles.update().where(roles.c.name == name).values(description=text))
