"""Statements run by asyncpg itself on SQLAlchemy's pooled connections (issue 5).

An audited patient read spent about half of its Python time in SQLAlchemy's execution of
one single-row SELECT: the ORM's compile-cache lookup and loading, the asyncpg adapter's
greenlet hand-offs and result wrapping. Measured 2026-12-07 (3,000 reads one at a time,
``process_time``): the ORM path 0.50-0.59 ms a read with its session, Core
``exec_driver_sql`` on a held connection 0.19-0.21 ms, asyncpg's own ``fetchrow`` 0.06 ms.

The read audit trail's group append (one INSERT of a few rows) cost 0.56 ms of Python
through SQLAlchemy for one row and 0.63 ms for four, most of it the same machinery.

:class:`DirectStatement` keeps SQLAlchemy for what it is good at here (the statement written
once as a Core construct, compiled once per dialect; the columns' types, whose processors
decrypt :class:`~hms.core.crypto.EncryptedString` values; the pooled connection, checked
out and returned as usual) and hands the execution to asyncpg. A statement run this way is
its own transaction (asyncpg outside ``BEGIN``): use it on connections that run in
autocommit, or before SQLAlchemy has begun a transaction on them, never inside one.
:class:`DirectSelect` runs a SELECT on a session, and only on sessions in autocommit on
PostgreSQL (:meth:`DirectSelect.usable`: the sessions of
:func:`~hms.db.session.read_only` routes). Errors keep the
contract of a SQLAlchemy execution: a dropped connection is invalidated and surfaces as
:class:`sqlalchemy.exc.DBAPIError` with ``connection_invalidated`` (the 503
``database_unavailable`` answer); any other database error as a plain ``DBAPIError``. The
statement's parameters are never part of the error (patient data).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql.expression import Executable
from sqlalchemy.util import greenlet_spawn

from hms.db.session import in_autocommit

#: Errors the server reports that still mean the connection is gone: SQLSTATE class 08
#: (``PostgresConnectionError``) and the server shutting down or refusing connections
#: (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now).
_SERVER_DISCONNECTS: tuple[type[asyncpg.PostgresError], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
)

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    #: Bound parameter names in ``$n`` order, each with its default value (a ``limit()``)
    #: and its type's bind processor (None when the value goes to asyncpg as it is).
    params: tuple[tuple[str, Any, Processor | None], ...]
    #: Result keys in column order, each with its type's result processor.
    columns: tuple[tuple[str, Processor | None], ...]


class DirectStatement:
    """A SQLAlchemy statement (Core ``select()``/``insert()``..., or ``text()``) run by
    asyncpg on a connection of SQLAlchemy's pool, as its own transaction.

    Args:
        stmt: the statement, with named bind parameters for the values given at run time;
            a ``select()``'s selected columns name the keys of the rows it returns
            (``select(Patient)`` gives every column of the table under its attribute key).
    """

    def __init__(self, stmt: Executable) -> None:
        self.stmt = stmt
        self._compiled: dict[type[Dialect], _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(type(dialect))
        if compiled is None:
            done = self.stmt.compile(dialect=dialect)  # type: ignore[attr-defined]
            defaults = done.construct_params(_check=False)
            params = tuple(
                (name, defaults.get(name),
                 done.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
                for name in done.positiontup or ())
            columns = tuple(
                (str(column.key),
                 column.type.dialect_impl(dialect).result_processor(dialect, None))
                for column in getattr(self.stmt, "selected_columns", ()))
            compiled = self._compiled[type(dialect)] = _Compiled(done.string, params, columns)
        return compiled

    async def execute(self, connection: AsyncConnection, **values: Any) -> None:
        """Run the statement with ``values`` (its bind parameters by name) on
        ``connection``, outside any transaction of SQLAlchemy's (it commits by itself).

        Raises:
            sqlalchemy.exc.DBAPIError: as :meth:`DirectSelect.first`.
        """
        await self._run(connection, values, fetch=False)

    async def first_in(self, engine: AsyncEngine, **values: Any) -> dict[str, Any] | None:
        """As :meth:`DirectSelect.first`, on a connection of ``engine``'s pool checked out
        for this statement alone (:meth:`run_in`).

        Raises:
            ValueError, sqlalchemy.exc.DBAPIError: as :meth:`run_in`.
        """
        rows = await self.run_in(engine, fetch=True, **values)
        return rows[0] if rows else None

    async def run_in(self, engine: AsyncEngine, *, fetch: bool = False, **values: Any
                     ) -> list[dict[str, Any]]:
        """Run the statement with ``values`` on a connection checked out of ``engine``'s
        pool for it alone and given back at once: the pool's own checkout (its checkout
        and checkin events, the idle ping, the reset on return), without the
        ``AsyncConnection`` around it, whose creation, isolation-level setting and close
        cost three times the checkout (0.21 ms against 0.075, measured 2026-12-07). The
        statement is its own transaction. Returns the rows (``fetch``) as
        :meth:`DirectSelect.all` gives them, else ``[]``.

        Raises:
            ValueError: ``engine`` is not on asyncpg.
            sqlalchemy.exc.DBAPIError: as :meth:`DirectSelect.first`; a lost connection is
                invalidated (the pool replaces it).
        """
        if engine.dialect.driver != "asyncpg":
            raise ValueError("DirectStatement runs on asyncpg connections only")
        pooled = await engine.raw_connection()
        try:
            return await self._run_raw(pooled.driver_connection, engine.dialect, values,
                                       fetch, partial(greenlet_spawn, pooled.invalidate))
        finally:
            await greenlet_spawn(pooled.close)

    async def _run(self, connection: AsyncConnection, values: dict[str, Any], *,
                   fetch: bool) -> list[dict[str, Any]]:
        if connection.dialect.driver != "asyncpg":
            raise ValueError("DirectStatement runs on asyncpg connections only")
        raw = (await connection.get_raw_connection()).driver_connection
        return await self._run_raw(raw, connection.dialect, values, fetch,
                                   connection.invalidate)

    async def _run_raw(self, raw: asyncpg.Connection[Any], dialect: Dialect,
                       values: dict[str, Any], fetch: bool,
                       invalidate: Callable[[BaseException], Awaitable[Any]]
                       ) -> list[dict[str, Any]]:
        compiled = self._compile(dialect)
        args = [processor(values.get(name, default)) if processor
                else values.get(name, default)
                for name, default, processor in compiled.params]
        try:
            if not fetch:
                await raw.execute(compiled.sql, *args)
                return []
            records = await raw.fetch(compiled.sql, *args)
        except Exception as error:
            # The server refused the statement: the connection is fine. Anything else (the
            # link dropped, the server went away, the client's protocol state broke, as
            # when a termination arrives mid-statement) invalidates it, as SQLAlchemy does
            # for a disconnect: the pool replaces it. Other pooled connections are pinged
            # before use when they sat idle, or fail and are replaced on their own.
            lost = (not isinstance(error, asyncpg.PostgresError)
                    or isinstance(error, _SERVER_DISCONNECTS))
            if lost:
                await invalidate(error)
            raise DBAPIError(compiled.sql, None, error, hide_parameters=True,
                             connection_invalidated=lost) from error
        columns = compiled.columns
        return [{key: processor(value) if processor else value
                 for (key, processor), value in zip(columns, record, strict=True)}
                for record in records]


class DirectSelect(DirectStatement):
    """A Core ``select()`` run by asyncpg on a read-only session's connection.

    Use :meth:`usable` first; on other sessions run ``stmt`` through the session as usual.
    """

    @staticmethod
    def usable(session: AsyncSession) -> bool:
        """True when ``session`` runs on PostgreSQL through asyncpg in autocommit (the
        session of a :func:`~hms.db.session.read_only` route there)."""
        bind = session.bind
        return bind is not None and bind.dialect.driver == "asyncpg" and in_autocommit(session)

    async def first(self, session: AsyncSession, **values: Any) -> dict[str, Any] | None:
        """The first row for ``values`` (the statement's bind parameters by name) as
        ``{column key: value}`` with each column's type applied (decrypted, converted), or
        None when there is none.

        Raises:
            ValueError: ``session`` is not :meth:`usable`.
            sqlalchemy.exc.DBAPIError: the database refused the statement; with
                ``connection_invalidated`` when the connection was lost (it is then
                invalidated, so the pool replaces it). The error's text holds the SQL, not
                the bound values.
        """
        rows = await self.all(session, **values)
        return rows[0] if rows else None

    async def all(self, session: AsyncSession, **values: Any) -> list[dict[str, Any]]:
        """Every row for ``values``, in the statement's order, as :meth:`first` gives one.

        Raises:
            ValueError, sqlalchemy.exc.DBAPIError: as :meth:`first`.
        """
        if not self.usable(session):
            raise ValueError("DirectSelect needs an autocommit asyncpg session")
        return await self._run(await session.connection(), values, fetch=True)
