"""Bulk row loading for tools (``hms generate``): PostgreSQL ``COPY``, SQLite executemany.

Pure mechanism, no domain imports: each module's own ``bulk.py`` calls :func:`insert_rows`
on its own tables (STYLE.md section 3). Values are given as the ORM would receive them
(plaintext, aware datetimes, UUIDs); on PostgreSQL the ``COPY`` path bypasses SQLAlchemy's
statement compilation, so :func:`insert_rows` applies each column's ``TypeDecorator``
(``EncryptedString`` encrypts, ``UTCDateTime`` normalises to UTC) itself, exactly as an
``INSERT`` would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, TypeDecorator, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession


async def insert_rows(session: AsyncSession, table: Table,
                      rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert ``rows`` into ``table`` inside the session's transaction.

    Args:
        table: the target table (``Model.__table__``).
        rows: one mapping per row, all with the same keys (column names); columns left
            out get their server default (NULL), not the ORM's Python-side default.

    Returns:
        The number of rows inserted.
    """
    if not rows:
        return 0
    conn = await session.connection()
    dialect = conn.dialect
    if dialect.name != "postgresql":
        await conn.execute(insert(table), [dict(r) for r in rows])
        return len(rows)
    columns = list(rows[0].keys())
    processors = []
    for name in columns:
        column_type = table.c[name].type
        processors.append(column_type.process_bind_param
                          if isinstance(column_type, TypeDecorator) else None)
    records = [
        tuple(value if p is None or value is None else p(value, dialect)
              for p, value in zip(processors, (row[c] for c in columns), strict=True))
        for row in rows
    ]
    # The asyncpg adapter opens its transaction lazily, on the first statement: make sure
    # COPY runs inside it (and so commits or rolls back with the session).
    await conn.execute(text("SELECT 1"))
    raw = await conn.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        table.name, records=records, columns=columns)
    return len(rows)


async def refresh_statistics(engine: AsyncEngine) -> None:
    """After a bulk load: ``VACUUM (ANALYZE)`` on PostgreSQL (planner statistics, and the
    visibility map that index-only scans need; autovacuum may be off or late), ``ANALYZE``
    on SQLite. Runs outside any transaction."""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text("VACUUM (ANALYZE)"))
        else:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
