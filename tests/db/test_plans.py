"""Generic plans where they are safe, plans made for the values where ``LIKE`` prefixes need
them (``hms.db.plans``), seen in PostgreSQL's own count of each prepared statement's
plans (``pg_prepared_statements``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hms.db.plans import custom_plans
from hms.db.session import READ_ONLY, Database
from hms.patients.name_search import NameQuery
from hms.patients.repository import PatientRepository, SearchCriteria

pytestmark = [pytest.mark.postgres_only, pytest.mark.usefixtures("committed_app")]

RUNS = 8  # PostgreSQL may keep a generic plan from the sixth execution on


@pytest.fixture
async def one_connection(settings) -> AsyncIterator[Database]:
    """A database whose sessions all use one pooled connection (its prepared statements
    and their plan counts accumulate there)."""
    database = Database(settings.effective_database_url, pool_size=1)
    yield database
    await database.dispose()


async def _plans(database: Database) -> list[tuple[str, int, int]]:
    async with database.engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"))
        return [(r.statement, r.generic_plans, r.custom_plans) for r in rows]


async def _mode(database: Database) -> str:
    async with database.engine.connect() as conn:
        return str(await conn.scalar(text("SHOW plan_cache_mode")))


async def _search(database: Database, criteria: SearchCriteria, *, scoped: bool) -> None:
    async with database.read_sessionmaker() as s:
        s.info[READ_ONLY] = True
        within = (lambda column: column.is_not(None)) if scoped else None
        await PatientRepository(s).search(criteria, offset=0, limit=20, within=within)


@pytest.mark.parametrize("scoped", [False, True], ids=["asyncpg", "orm"])
async def test_prefix_searches_are_planned_for_their_values(one_connection, scoped):
    """Name and MRN-prefix searches, read by asyncpg itself or (with a row scope) through
    the ORM: every statement with a ``LIKE`` on patients got a plan of its own at each of
    its runs, never the generic one; the connection is back to ``auto`` afterwards."""
    for _ in range(RUNS):
        await _search(one_connection, SearchCriteria(name_query=NameQuery.parse("ahm")),
                      scoped=scoped)
        await _search(one_connection, SearchCriteria(patient_number_prefix="PT-2025"),
                      scoped=scoped)
    like = [p for p in await _plans(one_connection)
            if "FROM patients" in p[0] and "LIKE" in p[0]]
    assert len(like) >= 2  # the name search's "starts with" tier and the MRN prefix page
    assert all(generic == 0 and custom >= RUNS for _, generic, custom in like), like
    assert await _mode(one_connection) == "auto"


async def test_reads_reuse_a_generic_plan(one_connection):
    """The patient read's SELECT, run again and again on a connection, is planned once."""
    for _ in range(RUNS):
        async with one_connection.read_sessionmaker() as s:
            s.info[READ_ONLY] = True
            assert await PatientRepository(s).values_by_ref(str(uuid.uuid4())) is None
    by_id = [p for p in await _plans(one_connection)
             if "FROM patients" in p[0] and "patients.id = $1" in p[0]]
    assert len(by_id) == 1
    _, generic, custom = by_id[0]
    assert generic >= 1 and generic + custom == RUNS


async def test_in_a_transaction_the_setting_ends_with_it(one_connection):
    """``SET LOCAL``: gone at commit, and at rollback after an error inside the block."""
    async with one_connection.sessionmaker() as s:
        async with custom_plans(s):
            assert await s.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
        assert await s.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
        await s.commit()
    assert await _mode(one_connection) == "auto"
    async with one_connection.sessionmaker() as s:
        with pytest.raises(DBAPIError):
            async with custom_plans(s):
                await s.execute(text("SELECT 1 / 0"))
        await s.rollback()
    assert await _mode(one_connection) == "auto"


async def test_on_a_read_session_an_error_inside_still_resets(one_connection):
    async with one_connection.read_sessionmaker() as s:
        with pytest.raises(DBAPIError, match="division by zero"):
            async with custom_plans(s):
                assert await s.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
                await s.execute(text("SELECT 1 / 0"))
        assert await s.scalar(text("SHOW plan_cache_mode")) == "auto"
    assert await _mode(one_connection) == "auto"
