"""The Alembic history upgrades and downgrades on the database under test."""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import inspect, text

from hms.db.migrate import downgrade, target_metadata, upgrade
from hms.db.session import create_engine
from tests.conftest import TEST_DB, _pg_admin, _pg_database_url


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _index_names(url: str) -> set[str]:
    """Every index in the database (from the catalogue: the inspector skips expression
    indexes on SQLite)."""
    sql = ("SELECT name FROM sqlite_master WHERE type = 'index'" if url.startswith("sqlite")
           else "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")

    async def run() -> set[str]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return set((await conn.scalars(text(sql))).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_upgrade_downgrade_upgrade(tmp_path):
    if TEST_DB == "postgres":
        name = f"hms_migr_{os.getpid()}"
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_admin(f'CREATE DATABASE "{name}"')
        url = _pg_database_url(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'migr.db'}"
    try:
        expected = {t.name for t in target_metadata().sorted_tables}
        upgrade(url)
        assert expected <= _tables(url)
        # Every index the models declare (e.g. the report time indexes) is built.
        declared = {ix.name for t in target_metadata().sorted_tables for ix in t.indexes}
        assert declared - _index_names(url) == set()
        downgrade(url, "base")
        assert _tables(url) - {"alembic_version"} == set()
        upgrade(url)
        assert expected <= _tables(url)
    finally:
        if TEST_DB == "postgres":
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
