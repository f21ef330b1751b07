"""patient identifier encryption

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

Encrypts patients' identifiers and contact details at rest (AES-256-GCM, ``v1:<key_id>:...``
values, see hms.core.crypto) and adds keyed blind indexes for exact search:

- national_id, passport_number, other_identifier, mobile, phone, email, address_line,
  emergency_contact_phone become TEXT (ciphertext is longer than the plaintext);
- national_id_bidx (UNIQUE: replaces the unique constraint on national_id), mobile_bidx,
  phone_bidx, passport_number_bidx (btree indexes) are added; the indexes on plaintext
  mobile and passport_number are dropped;
- existing rows are encrypted and indexed in batches, in this migration's transaction.

The keys come from the running configuration (HMS_ENCRYPTION_KEYS, HMS_ENCRYPTION_ACTIVE_KEY,
HMS_BLIND_INDEX_KEY), so this migration imports hms.core.crypto: the ``v1`` format and the
blind-index construction are a stable contract of that module. Downgrade decrypts back to
plaintext (the keys that encrypted the rows must still be configured).

Also grants the new permission ``patient:read_identifiers`` to super_admin, admin and nurse
(hms.core.permissions.ROLE_PERMISSIONS) in ``role_permissions`` and lists it in
``permission_catalogue`` (revision 0005 made roles data with a frozen catalogue that predates
it), so the database at this revision is complete on its own and a later catalogue sync sees
the permission as known (an admin's later revocation is not undone). The roles' permission
revision token is renewed so cached permission sets are reloaded.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from alembic import op

from hms.core import crypto

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Encrypted column -> its plaintext type before this revision.
ENCRYPTED: dict[str, sa.types.TypeEngine[Any]] = {
    "national_id": sa.String(length=14),
    "passport_number": sa.String(length=32),
    "other_identifier": sa.String(length=64),
    "mobile": sa.String(length=11),
    "phone": sa.String(length=32),
    "email": sa.String(length=254),
    "address_line": sa.String(length=255),
    "emergency_contact_phone": sa.String(length=32),
}

#: Encrypted column -> (blind-index column, HMAC purpose, normalisation); as in
#: hms.patients.models.BLIND_INDEXES at this revision.
BLIND_INDEXES: dict[str, tuple[str, str, crypto.Normalisation]] = {
    "national_id": ("national_id_bidx", "patients.national_id", "digits"),
    "mobile": ("mobile_bidx", "patients.mobile", "digits"),
    "phone": ("phone_bidx", "patients.phone", "digits"),
    "passport_number": ("passport_number_bidx", "patients.passport_number", "alphanumeric"),
}

PERMISSION = "patient:read_identifiers"
GRANTED_TO = ("super_admin", "admin", "nurse")
BATCH = 500


def _patients() -> sa.TableClause:
    return sa.table(
        "patients",
        sa.column("id", sa.Uuid()),
        *[sa.column(name, sa.Text()) for name in ENCRYPTED],
        *[sa.column(index, sa.String(64)) for index, _, _ in BLIND_INDEXES.values()],
    )


def _rewrite(transform: Callable[[str, str], str], *, indexes: bool) -> None:
    """Rewrite every encrypted column of every patient with ``transform(column, value)``,
    in batches by id; with ``indexes``, also set the blind indexes from the plaintext."""
    bind = op.get_bind()
    ring = crypto.key_ring()
    patients = _patients()
    columns = list(ENCRYPTED)
    targets = columns + ([index for index, _, _ in BLIND_INDEXES.values()] if indexes else [])
    stmt = (
        sa.update(patients)
        .where(patients.c.id == sa.bindparam("b_id"))
        .values({name: sa.bindparam(f"b_{name}") for name in targets})
    )
    last = None
    while True:
        query = sa.select(patients.c.id, *[patients.c[name] for name in columns])
        if last is not None:
            query = query.where(patients.c.id > last)
        rows = bind.execute(query.order_by(patients.c.id).limit(BATCH)).all()
        if not rows:
            break
        params = []
        for row in rows:
            values: dict[str, Any] = {"b_id": row.id}
            for name in columns:
                old = getattr(row, name)
                values[f"b_{name}"] = transform(name, old) if old is not None else None
            if indexes:
                for name, (index, purpose, normalisation) in BLIND_INDEXES.items():
                    plain = getattr(row, name)
                    values[f"b_{index}"] = (ring.blind_index(plain, purpose, normalisation)
                                            if plain is not None else None)
            params.append(values)
        bind.execute(stmt, params)
        last = rows[-1].id


def _tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


def _grant_permission() -> None:
    bind = op.get_bind()
    tables = _tables()
    if "role_permissions" not in tables:
        return
    role_permissions = sa.table("role_permissions", sa.column("role", sa.String()),
                                sa.column("permission", sa.String()))
    present = set(bind.execute(
        sa.select(role_permissions.c.role).where(role_permissions.c.permission == PERMISSION)
    ).scalars())
    missing = [{"role": role, "permission": PERMISSION}
               for role in GRANTED_TO if role not in present]
    if missing:
        op.bulk_insert(role_permissions, missing)
        if "roles" in tables:
            roles = sa.table("roles", sa.column("name", sa.String()),
                             sa.column("permissions_revision", sa.String()))
            for row in missing:
                bind.execute(sa.update(roles).where(roles.c.name == row["role"])
                             .values(permissions_revision=uuid4().hex))
    if "permission_catalogue" in tables:
        catalogue = sa.table("permission_catalogue", sa.column("name", sa.String()),
                             sa.column("added_at", sa.DateTime(timezone=True)))
        known = bind.execute(sa.select(catalogue.c.name)
                             .where(catalogue.c.name == PERMISSION)).first()
        if known is None:
            op.bulk_insert(catalogue, [{"name": PERMISSION, "added_at": datetime.now(UTC)}])


def _revoke_permission() -> None:
    bind = op.get_bind()
    tables = _tables()
    if "role_permissions" in tables:
        role_permissions = sa.table("role_permissions", sa.column("role", sa.String()),
                                    sa.column("permission", sa.String()))
        holders = list(bind.execute(sa.select(role_permissions.c.role).where(
            role_permissions.c.permission == PERMISSION)).scalars())
        bind.execute(sa.delete(role_permissions)
                     .where(role_permissions.c.permission == PERMISSION))
        if "roles" in tables:
            roles = sa.table("roles", sa.column("name", sa.String()),
                             sa.column("permissions_revision", sa.String()))
            for role in holders:
                bind.execute(sa.update(roles).where(roles.c.name == role)
                             .values(permissions_revision=uuid4().hex))
    if "permission_catalogue" in tables:
        catalogue = sa.table("permission_catalogue", sa.column("name", sa.String()))
        bind.execute(sa.delete(catalogue).where(catalogue.c.name == PERMISSION))


def upgrade() -> None:
    ring = crypto.key_ring()
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_constraint("uq_patients_national_id", type_="unique")
        batch_op.drop_index("ix_patients_mobile")
        batch_op.drop_index("ix_patients_passport_number")
        for name, old_type in ENCRYPTED.items():
            batch_op.alter_column(name, existing_type=old_type, type_=sa.Text(),
                                  existing_nullable=True)
        for index, _, _ in BLIND_INDEXES.values():
            batch_op.add_column(sa.Column(index, sa.String(length=64), nullable=True))

    _rewrite(lambda name, plain: ring.encrypt(plain, f"patients.{name}"), indexes=True)

    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_patients_national_id_bidx", ["national_id_bidx"])
        batch_op.create_index("ix_patients_mobile_bidx", ["mobile_bidx"], unique=False)
        batch_op.create_index("ix_patients_phone_bidx", ["phone_bidx"], unique=False)
        batch_op.create_index("ix_patients_passport_number_bidx", ["passport_number_bidx"],
                              unique=False)
    _grant_permission()


def downgrade() -> None:
    ring = crypto.key_ring()
    _revoke_permission()
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index("ix_patients_passport_number_bidx")
        batch_op.drop_index("ix_patients_phone_bidx")
        batch_op.drop_index("ix_patients_mobile_bidx")
        batch_op.drop_constraint("uq_patients_national_id_bidx", type_="unique")

    _rewrite(lambda name, token: ring.decrypt(token, f"patients.{name}"), indexes=False)

    with op.batch_alter_table("patients", schema=None) as batch_op:
        for index, _, _ in BLIND_INDEXES.values():
            batch_op.drop_column(index)
        for name, old_type in ENCRYPTED.items():
            batch_op.alter_column(name, existing_type=sa.Text(), type_=old_type,
                                  existing_nullable=True)
        batch_op.create_unique_constraint("uq_patients_national_id", ["national_id"])
        batch_op.create_index("ix_patients_mobile", ["mobile"], unique=False)
        batch_op.create_index("ix_patients_passport_number", ["passport_number"], unique=False)
