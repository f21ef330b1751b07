"""Engine and session lifecycle.

One ``AsyncSession`` per request from :func:`get_session`: it commits after the handler
returns (before the response is sent) and rolls back on any exception. Nothing else commits.

Routes that only read (and audit the read) are marked :func:`read_only`: their request's
session refuses any write but the audit trail's (:class:`ReadOnlyViolation`), on every
backend, and on PostgreSQL its statements run without an explicit transaction (no
``BEGIN``/``COMMIT`` round trips). A read route that starts writing therefore fails its
tests instead of writing outside a transaction.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import TextClause, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.selectable import SelectBase


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Make SQLite behave: foreign keys on, WAL, real BEGIN so SAVEPOINT works.

    pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's documented workaround
    is to disable it and emit BEGIN ourselves. ``BEGIN IMMEDIATE`` takes the write lock up
    front so concurrent writers queue on ``busy_timeout`` instead of failing mid-transaction.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Read-only work (health checks) opts out with execution_options(hms_read_only=True)
        # so it never queues behind writers.
        if conn.get_execution_options().get("hms_read_only"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


#: A pooled PostgreSQL connection idle for longer than this is pinged before it is handed
#: out (seconds). Connections in steady use skip the ping: SQLAlchemy's ``pool_pre_ping``
#: costs three round trips on asyncpg (BEGIN, an empty statement, ROLLBACK) on every
#: checkout, a third of a patient read's round trips (measured 2026-12-06).
PING_AFTER_IDLE_SECONDS = 5.0

_CHECKED_IN_AT = "hms_checked_in_at"


def _ping_idle_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    """Pessimistic disconnect handling for connections that sat idle: on checkout, a
    connection unused for ``idle_seconds`` or more is pinged, and a dead one is replaced
    (``DisconnectionError`` makes the pool reconnect, up to three attempts) before any
    request sees it. A database restart therefore costs no request once the pool has been
    idle for ``idle_seconds``; a connection that dies while in steady use is caught by
    SQLAlchemy's own disconnect detection, which invalidates the whole pool.

    Source: SQLAlchemy 2.0 documentation, "Dealing with Disconnects" (the custom
    pessimistic recipe on the pool ``checkout`` event).
    """
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN_AT)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # fresh from connect, or in steady use
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure of the ping means the link is unusable
            raise exc.DisconnectionError("idle connection failed its ping") from error
        if not alive:
            raise exc.DisconnectionError("idle connection failed its ping")


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 0,
                  pool_timeout: float = 10.0, echo: bool = False,
                  ping_after_idle: float = PING_AFTER_IDLE_SECONDS) -> AsyncEngine:
    """Create the async engine for ``url`` (``sqlite+aiosqlite`` or ``postgresql+asyncpg``).

    On PostgreSQL, pooled connections idle for ``ping_after_idle`` seconds are pinged on
    checkout (see :func:`_ping_idle_connections`); the pool is LIFO, so under light load
    the same few connections stay warm and the rest age out of use.

    PostgreSQL pool: ``pool_size`` connections kept open, at most ``max_overflow`` more
    opened in a burst (and closed when returned), and a request that finds every one in
    use waits up to ``pool_timeout`` seconds (then ``sqlalchemy.exc.TimeoutError``, a 503
    ``database_busy``). No overflow by default: under a burst, connections opened and
    closed per request cost a connect, re-prepared statements and type lookups each, and
    more transactions in flight than the database has cores only queue there instead
    (measured 2026-12-06: name search at 70 users, p50 407 ms with 10 + 10 overflow,
    245 ms with 10 and none).
    """
    parsed = make_url(url)
    # hide_parameters: bound values (patient data) never appear in SQL log lines or in the
    # text of database exceptions.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow,
                      pool_timeout=pool_timeout, pool_use_lifo=True)
        # asyncpg prepares every statement; after five runs PostgreSQL may keep a generic
        # plan for it (``plan_cache_mode`` left at the server's ``auto``), which spares
        # the planning at each execution. The searches whose ``LIKE`` prefixes need
        # plans made for their values ask for them (``hms.db.plans.custom_plans``).
        # JIT compilation (tens to hundreds of ms) pays off for long analytical queries,
        # not for a clinic's short ones; the reports' aggregates run fine without it.
        kwargs["connect_args"] = {"server_settings": {"jit": "off"}}
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    else:
        _ping_idle_connections(engine, ping_after_idle)
    return engine


F = TypeVar("F", bound=Callable[..., Any])

#: ``session.info`` key set on the sessions of :func:`read_only` routes.
READ_ONLY = "hms.read_only"
#: Attribute :func:`read_only` sets on a route's endpoint function.
_READ_ONLY_ROUTE = "__hms_read_only__"

#: ORM classes a read-only session may still insert: the audit trail's rows, registered by
#: the audit module (:func:`allow_in_read_only`). ``db`` imports no domain module.
_READ_SAFE: set[type] = set()

#: Row locks and advisory locks mean a write is coming; a read-only session refuses them
#: (without a transaction they would be released as soon as the statement ends).
_LOCKING = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE|KEY\s+SHARE)\b|"
                      r"\bpg_(?:try_)?advisory", re.IGNORECASE)


class ReadOnlyViolation(RuntimeError):
    """The session of a :func:`read_only` route was asked to write or lock. A programming
    error (the route must not be marked read-only), never bad input: it surfaces as a 500
    and in the route's tests."""


def read_only(endpoint: F) -> F:
    """Mark a route's endpoint as read-only (put it under the ``@router.get`` line): its
    request session (:func:`get_session`) then refuses writes but the audit trail's and,
    on PostgreSQL, runs in autocommit. Use it for routes that read and audit only."""
    setattr(endpoint, _READ_ONLY_ROUTE, True)
    return endpoint


def is_read_only(request: Request) -> bool:
    """True when the request's route is marked :func:`read_only`."""
    return getattr(request.scope.get("endpoint"), _READ_ONLY_ROUTE, False) is True


def allow_in_read_only(cls: type) -> type:
    """Register an ORM class whose new rows a read-only session may flush (the audit
    trail: a read leaves an audit row). Returns ``cls``, so it can decorate."""
    _READ_SAFE.add(cls)
    return cls


def _refuse_writes_on_flush(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    """``before_flush``: a read-only session flushes only new rows of :data:`_READ_SAFE`
    classes; any other new, changed or deleted object raises :class:`ReadOnlyViolation`."""
    if not session.info.get(READ_ONLY):
        return
    refused = [obj for obj in session.new if type(obj) not in _READ_SAFE]
    refused += [*session.deleted, *(obj for obj in session.dirty if session.is_modified(obj))]
    if refused:
        raise ReadOnlyViolation(
            f"read-only session asked to write a {type(refused[0]).__name__} row")


def _refuse_writes_on_execute(state: ORMExecuteState) -> None:
    """``do_orm_execute``: a read-only session runs SELECTs only, without row or advisory
    locks; anything else raises :class:`ReadOnlyViolation`."""
    if not state.session.info.get(READ_ONLY):
        return
    stmt = state.statement
    if isinstance(stmt, SelectBase):  # SELECT, UNION..., text().columns()
        if getattr(stmt, "_for_update_arg", None) is None:
            return
    elif isinstance(stmt, TextClause):
        sql = stmt.text.lstrip("( \t\r\n")
        if sql[:6].upper() == "SELECT" and not _LOCKING.search(sql):
            return
    raise ReadOnlyViolation(f"read-only session asked to run {type(stmt).__name__} "
                            f"{str(stmt)[:40]!r}")


#: A hook on the sessions of read-only routes (:func:`after_read`).
ReadFinisher = Callable[[AsyncSession], Callable[[], Awaitable[None]] | None]
_READ_FINISHERS: list[ReadFinisher] = []


def after_read(finisher: ReadFinisher) -> ReadFinisher:
    """Register a hook run on a :func:`read_only` route's session when its handler has
    returned: it may take work off the session and return a coroutine function that
    :func:`get_session` awaits once the session has committed and given its connection
    back, before the response is sent (the audit trail hands its read rows to a group
    commit this way; ``db`` imports no domain module). Returns ``finisher``."""
    _READ_FINISHERS.append(finisher)
    return finisher


#: Checks for work a session's commit would still do beyond its ORM changes
#: (:func:`holds_writes`).
_WRITE_CHECKS: list[Callable[[AsyncSession], bool]] = []


def holds_writes(check: Callable[[AsyncSession], bool]) -> Callable[[AsyncSession], bool]:
    """Register a check that is true while a session holds rows its commit would write
    outside the ORM's unit of work (the audit trail's recorded rows), so that
    :func:`get_session` commits it. Returns ``check``."""
    _WRITE_CHECKS.append(check)
    return check


def in_autocommit(session: AsyncSession) -> bool:
    """True when ``session`` runs on an engine whose connections are in autocommit (a
    read-only route's session on PostgreSQL, from ``Database.read_sessionmaker``): each
    statement is its own transaction. False on SQLite and for sessions joined to a
    connection (tests, jobs)."""
    bind = session.bind
    return (isinstance(bind, AsyncEngine)
            and bind.get_execution_options().get("isolation_level") == "AUTOCOMMIT")


def _nothing_to_commit(session: AsyncSession) -> bool:
    """True for an autocommit session (a read-only route's on PostgreSQL: each statement
    committed itself) with no ORM change waiting for a flush, no row a :func:`holds_writes`
    check reports and no ``after_commit`` listener: committing it would only run the
    session's own bookkeeping, about 0.08 ms of a read's Python time (measured
    2026-12-07), so it is closed instead."""
    if not in_autocommit(session):
        return False
    sync = session.sync_session
    if sync.new or sync.deleted or sync.dirty or sync.dispatch.after_commit:
        return False
    return not any(check(session) for check in _WRITE_CHECKS)


event.listen(Session, "before_flush", _refuse_writes_on_flush)
event.listen(Session, "do_orm_execute", _refuse_writes_on_execute)


class Database:
    """An engine plus its session factory; one per process, held on ``app.state.db``.

    ``read_sessionmaker`` makes the sessions of read-only routes: on PostgreSQL their
    connections run in autocommit (each statement its own transaction), elsewhere it is
    ``sessionmaker``.
    """

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 0,
                 pool_timeout: float = 10.0) -> None:
        # Every table must be known before the first flush: a foreign key to a module the
        # process never imported (a CLI command touching vital_signs, whose appointment_id
        # points at scheduling's table) cannot be resolved otherwise.
        from hms.db.migrate import target_metadata

        target_metadata()
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow,
                                    pool_timeout=pool_timeout)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        #: The read-only routes' engine: on PostgreSQL the pool's connections in autocommit.
        #: SQLite keeps its transactions: there the audit trail reads the chain's tail and
        #: appends after it, which must be one transaction.
        self.read_engine = self.engine if self.is_sqlite else self.engine.execution_options(
            isolation_level="AUTOCOMMIT")
        self.read_sessionmaker = self.sessionmaker if self.is_sqlite else async_sessionmaker(
            self.read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """True when the backend is SQLite."""
        return self.engine.dialect.name == "sqlite"

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: one session per request, committed after the handler.

    Declare it with ``Depends(get_session, scope="function")`` so the commit happens before
    the response is sent; a failed commit therefore becomes a 5xx, never a false 2xx. The
    session's life is :func:`request_session`'s.
    """
    async with request_session(request) as session:
        yield session


#: ``app.state`` attribute: a replacement for :func:`request_session`'s own sessions, a
#: callable ``(request) -> async context manager of AsyncSession`` (the tests join every
#: request's session to an outer transaction this way).
REQUEST_SESSIONS = "request_sessions"


def sessionless_reads(request: Request) -> bool:
    """True when a read-only route may read on connections of its own, without a session
    (``hms.db.direct``): PostgreSQL through asyncpg, and the app opens its own request
    sessions (no :data:`REQUEST_SESSIONS` hook, whose sessions may see data that other
    connections do not)."""
    db: Database = request.app.state.db
    return (db.read_engine.dialect.driver == "asyncpg"
            and getattr(request.app.state, REQUEST_SESSIONS, None) is None)


@asynccontextmanager
async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session, for the few routes that open it themselves instead of
    declaring :func:`get_session` (a read that needs no session on its common path): it
    commits when the block ends without an error and rolls back otherwise. An app whose
    ``state`` has :data:`REQUEST_SESSIONS` gets its sessions from there instead.

    For a :func:`read_only` route the session refuses writes but the audit trail's and,
    on PostgreSQL, runs without an explicit transaction: a patient read is its SELECT and
    the audit INSERT (chained and committed by that statement's own transaction) instead of
    BEGIN, SELECT, INSERT, COMMIT. Each statement sees the data committed when it starts, as
    it would inside a READ COMMITTED transaction; the audit rows are written (and so
    committed) before the block ends: by the hooks registered with :func:`after_read` once
    the session has committed (PostgreSQL: the audit trail's group commit), or by the
    session's commit. Such a session with nothing left to write is closed without the
    commit's bookkeeping (:func:`_nothing_to_commit`).

    Raises:
        whatever the block raises (after the rollback), or the commit's database error.
    """
    opener = getattr(request.app.state, REQUEST_SESSIONS, None)
    if opener is not None:
        async with opener(request) as session:
            yield session
        return
    db: Database = request.app.state.db
    read = is_read_only(request)
    then: list[Callable[[], Awaitable[None]]] = []
    async with (db.read_sessionmaker if read else db.sessionmaker)() as session:
        if read:
            session.info[READ_ONLY] = True
        try:
            yield session
            if read:
                then = [step for finish in _READ_FINISHERS
                        if (step := finish(session)) is not None]
            if not (read and _nothing_to_commit(session)):
                await session.commit()
        except BaseException as exc:
            if getattr(exc, "commit", False) is True:
                await session.commit()
            else:
                await session.rollback()
            raise
    for step in then:  # the session's connection is back in the pool
        await step()


@asynccontextmanager
async def unit_of_work(db: Database) -> AsyncIterator[AsyncSession]:
    """Session for jobs and CLI commands: commit at the end, roll back on error."""
    async with db.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
