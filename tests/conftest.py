"""Test harness: the real database, twice (``HMS_TEST_DB=sqlite|postgres``).

Each xdist worker gets its own database with ``alembic upgrade head`` applied (so the
migrations are tested). Each test runs inside an outer transaction that is rolled back; the
app's sessions join it through SAVEPOINTs. Tests marked ``committed`` use real commits and
wipe every table afterwards.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import Request
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

TEST_DB = os.environ.get("HMS_TEST_DB", "sqlite").lower()
PG_ADMIN_URL = os.environ.get("HMS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_TMP = Path(tempfile.mkdtemp(prefix=f"hms-test-{_WORKER}-"))
os.environ["HMS_ENVIRONMENT"] = "test"
os.environ["HMS_DATA_DIR"] = str(_TMP / "data")
os.environ.setdefault("HMS_LOG_LEVEL", "WARNING")
# Cheap Argon2id parameters keep logins fast in tests; production uses the defaults.
os.environ.setdefault("HMS_ARGON2_TIME_COST", "1")
os.environ.setdefault("HMS_ARGON2_MEMORY_KIB", "1024")
os.environ.setdefault("HMS_ARGON2_PARALLELISM", "1")
# The suite's admin users would otherwise be restricted until they enrol MFA; the MFA tests
# turn enforcement on explicitly (tests/identity/test_mfa.py).
os.environ.setdefault("HMS_MFA_ENFORCED", "false")
os.environ.pop("HMS_DATABASE_URL", None)
os.environ.pop("HMS_BROKER_URL", None)
os.environ.pop("HMS_REDIS_URL", None)
# Rate limits off for the suite (and the schemathesis servers, which inherit this
# environment); tests/identity/test_rate_limits.py turns them on with its own settings.
os.environ["HMS_RATE_LIMIT_ENABLED"] = "false"
# The dashboard's figures are fresh on every call unless a test asks for its snapshot.
os.environ["HMS_DASHBOARD_MAX_AGE_SECONDS"] = "0"

from hms.config import Settings, get_settings  # noqa: E402
from hms.db.base import Base  # noqa: E402
from hms.db.migrate import target_metadata, upgrade  # noqa: E402
from hms.db.session import READ_ONLY, REQUEST_SESSIONS, Database, is_read_only  # noqa: E402
from hms.main import create_app  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if TEST_DB == "postgres":
        return
    skip = pytest.mark.skip(reason="PostgreSQL-only feature; this run is on SQLite")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


def _pg_database_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)


def _pg_admin(sql: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of this worker's migrated test database."""
    get_settings.cache_clear()
    if TEST_DB == "postgres":
        name = f"hms_test_{_WORKER}_{os.getpid()}"
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_admin(f'CREATE DATABASE "{name}"')
        url = _pg_database_url(name)
        upgrade(url)
        yield url
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        url = f"sqlite+aiosqlite:///{_TMP / 'test.db'}"
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    """Settings of the test run (database URL pinned to this worker's database)."""
    get_settings.cache_clear()
    os.environ["HMS_DATABASE_URL"] = database_url
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
async def db(settings: Settings) -> AsyncIterator[Database]:
    """The worker's :class:`Database` (engine + sessionmaker)."""
    database = Database(settings.effective_database_url, pool_size=5)
    yield database
    await database.dispose()


@pytest.fixture
async def connection(db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection holding the outer transaction that is rolled back after the test.

    On PostgreSQL the audit chain's trigger (migration 0019) is IMMEDIATE in it: the
    outer transaction never commits, so audit rows are chained as they are flushed and a
    test can read them as plain rows. The commit-time chaining that production runs is
    tested by the ``committed`` tests (tests/audit/test_chain.py, the end-to-end days).
    """
    async with db.engine.connect() as conn:
        trans = await conn.begin()
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SET CONSTRAINTS audit_pending_chain IMMEDIATE"))
        yield conn
        if trans.is_active:
            await trans.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session inside the test's outer transaction (for factories and assertions)."""
    s = AsyncSession(bind=connection, join_transaction_mode="create_savepoint",
                     expire_on_commit=False)
    yield s
    await s.close()


@pytest.fixture
def app(db: Database, connection: AsyncConnection, settings: Settings):
    """The app with request sessions joined to the test's outer transaction."""
    application = create_app(settings, db=db)

    @asynccontextmanager
    async def _joined(request: Request) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint",
                                expire_on_commit=False) as s:
            # Read-only routes refuse writes here too (the outer transaction stays).
            if is_read_only(request):
                s.info[READ_ONLY] = True
            try:
                yield s
                await s.commit()
            except BaseException as exc:
                if getattr(exc, "commit", False) is True:
                    await s.commit()
                else:
                    await s.rollback()
                raise

    @asynccontextmanager
    async def _job_sessions() -> AsyncIterator[AsyncSession]:
        async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint",
                                expire_on_commit=False) as s:
            try:
                yield s
                await s.commit()
            except BaseException:
                await s.rollback()
                raise

    # Every request session (get_session's and the routes' own, request_session) joins
    # the test's outer transaction; reads without a session are off (sessionless_reads).
    setattr(application.state, REQUEST_SESSIONS, _joined)
    # Background jobs (report exports) open their own sessions: join them to the test too.
    application.state.report_job_sessions = _job_sessions
    return application


@pytest.fixture
async def client(app) -> AsyncIterator[AsyncClient]:
    """An httpx client talking to the app in-process."""
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def committed_app(db: Database, settings: Settings) -> AsyncIterator[object]:
    """The app with real commits (for concurrency tests); wipes every table afterwards."""
    application = create_app(settings, db=db)
    yield application
    async with db.engine.begin() as conn:
        await delete_all_rows(conn)


async def delete_all_rows(conn: AsyncConnection) -> None:
    """Delete every row of every hms table but the seeded reference data, in the caller's
    transaction.

    ``audit_log`` is append-only on PostgreSQL (trigger from migration 0007, no escape hatch
    in it): the wipe disables that trigger inside this transaction only. ``ALTER TABLE`` is
    transactional and needs the table's owner, the same privilege that could drop the
    trigger anyway, so the test harness gains no power the application role should lack.
    """
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    for table in reversed(target_metadata().sorted_tables):
        if table.name not in SEEDED_TABLES:
            await conn.execute(delete(table))
    if postgres:
        await conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


#: Reference data the migrations seed (roles are data): kept when a committed test wipes.
SEEDED_TABLES = frozenset({"roles", "role_permissions", "permission_catalogue"})


@pytest.fixture(autouse=True)
async def _seeded_roles(request: pytest.FixtureRequest) -> None:
    """Every database test starts with the roles the migrations seed: a test that wiped
    every table (committed data) must not leave the next one without permissions."""
    if "db" not in request.fixturenames:
        return
    from sqlalchemy import func, select

    from hms.identity.models import RoleDefinition
    from hms.identity.roles import sync_permission_catalogue

    database: Database = request.getfixturevalue("db")
    async with database.engine.connect() as conn:
        conn = await conn.execution_options(hms_read_only=True)
        seeded = await conn.scalar(select(func.count()).select_from(RoleDefinition))
    if not seeded:
        async with database.engine.begin() as conn:
            await conn.run_sync(sync_permission_catalogue)


@pytest.fixture
async def committed_client(committed_app) -> AsyncIterator[AsyncClient]:
    """An httpx client for :func:`committed_app`."""
    async with AsyncClient(transport=ASGITransport(app=committed_app),
                           base_url="http://testserver") as c:
        yield c


__all__ = ["Base"]
