"""Re-encryption of every encrypted column under the active key (``hms rotate-keys``).

Finds the columns by their type (:class:`hms.core.crypto.EncryptedString`) in the metadata
of every module, so a module that adds an encrypted column is covered without a change
here. Works on raw stored values: decrypts with whatever key of the ring a value names and
re-encrypts under the active key, in batches of rows, one transaction per batch.

Blind-index key rotation is out of scope: an index is an HMAC of the plaintext, so a new
index key means recomputing every ``*_bidx`` value from the decrypted plaintext and
swapping the unique constraint over in one go (a full re-index, with search unavailable or
doubled up meanwhile). That is a migration-sized job of its own, not a routine rotation.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from hms.core.crypto import FORMAT, EncryptedString, KeyRing, key_ring
from hms.db.migrate import target_metadata

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass
class ColumnRotation:
    """What a rotation did to one encrypted column.

    Attributes:
        table, column: where.
        values: non-null values found (at the start).
        rotated: values re-encrypted under the active key.
        skipped: values that changed under the rotation (a concurrent write, which already
            used the active key); left alone.
    """

    table: str
    column: str
    values: int = 0
    rotated: int = 0
    skipped: int = 0

    @property
    def current(self) -> int:
        """Values that were already under the active key."""
        return self.values - self.rotated - self.skipped


@dataclass
class RotationReport:
    """Outcome of :func:`rotate_keys`: the active key id and one entry per column."""

    active_key_id: str
    columns: list[ColumnRotation] = field(default_factory=list)

    @property
    def rotated(self) -> int:
        """Values re-encrypted in total."""
        return sum(c.rotated for c in self.columns)

    def lines(self) -> list[str]:
        """Human-readable counts, one line per column, then a total (no values)."""
        out = [f"{c.table}.{c.column}: {c.rotated} re-encrypted, {c.current} already "
               f"under key {self.active_key_id!r}, {c.skipped} changed meanwhile"
               for c in self.columns]
        out.append(f"total: {self.rotated} values re-encrypted under key "
                   f"{self.active_key_id!r}")
        return out


def encrypted_columns(metadata: sa.MetaData | None = None) -> dict[str, list[sa.Column[str]]]:
    """Table name -> its :class:`EncryptedString` columns, for every table that has one."""
    tables = (metadata or target_metadata()).sorted_tables
    out: dict[str, list[sa.Column[str]]] = {}
    for table in tables:
        columns = [c for c in table.columns if isinstance(c.type, EncryptedString)]
        if columns:
            out[table.name] = columns
    return out


async def rotate_keys(
    sessions: SessionFactory,
    *,
    batch_size: int = 500,
    ring: KeyRing | None = None,
    metadata: sa.MetaData | None = None,
) -> RotationReport:
    """Re-encrypt every stored value whose key id is not the active key's.

    Idempotent: a second run finds nothing to do. Safe beside a running app: each row is
    updated only if its values are still the ones read (``WHERE id = :id AND col = :old``),
    and one transaction covers one batch, so an interrupted run keeps its progress.

    Args:
        sessions: opens one session per batch and commits it at the end (e.g.
            ``lambda: unit_of_work(db)``).
        batch_size: rows per batch (and per transaction).
        ring: the keys; default :func:`hms.core.crypto.key_ring` (the settings').
        metadata: tables to scan; default every module's.

    Returns:
        Counts per column (never values).

    Raises:
        hms.core.crypto.DecryptionError: a value names a key id missing from the ring, or
            fails authentication; batches before it stay committed.
        ValueError: a table with encrypted columns has no single-column primary key.
    """
    ring = ring or key_ring()
    active_prefix = f"{FORMAT}:{ring.active_key_id}:"
    report = RotationReport(active_key_id=ring.active_key_id)
    for table_name, columns in encrypted_columns(metadata).items():
        table = columns[0].table
        if len(table.primary_key.columns) != 1:
            raise ValueError(f"{table_name}: rotation needs a single-column primary key")
        pk_column = next(iter(table.primary_key.columns))
        # Raw view of the table: the values as stored, no encryption on bind or result.
        raw = sa.table(table_name, sa.column(pk_column.name, pk_column.type),
                       *[sa.column(c.name, sa.Text()) for c in columns])
        pk = raw.c[pk_column.name]
        stats = {c.name: ColumnRotation(table_name, c.name) for c in columns}
        report.columns.extend(stats.values())
        async with sessions() as session:
            counts = (await session.execute(
                sa.select(*[sa.func.count(raw.c[c.name]) for c in columns]))).one()
        for c, count in zip(columns, counts, strict=True):
            stats[c.name].values = int(count)

        stale = sa.or_(*[
            sa.and_(raw.c[c.name].is_not(None),
                    sa.func.substr(raw.c[c.name], 1, len(active_prefix)) != active_prefix)
            for c in columns
        ])
        last = None
        while True:
            query = sa.select(pk, *[raw.c[c.name] for c in columns]).where(stale)
            if last is not None:
                query = query.where(pk > last)
            async with sessions() as session:
                rows = (await session.execute(query.order_by(pk).limit(batch_size))).all()
                for row in rows:
                    old: dict[str, str] = {}
                    new: dict[str, str] = {}
                    for c in columns:
                        token = getattr(row, c.name)
                        if token is None or token.startswith(active_prefix):
                            continue
                        label = c.type.column_label  # type: ignore[attr-defined]
                        old[c.name] = token
                        new[c.name] = ring.encrypt(ring.decrypt(token, label), label)
                    if not new:
                        continue
                    result = await session.execute(
                        sa.update(raw)
                        .where(pk == getattr(row, pk_column.name),
                               *[raw.c[name] == value for name, value in old.items()])
                        .values(new))
                    changed = getattr(result, "rowcount", 0) == 1
                    for name in new:
                        if changed:
                            stats[name].rotated += 1
                        else:
                            stats[name].skipped += 1
            if len(rows) < batch_size:
                break
            last = getattr(rows[-1], pk_column.name)
    return report
