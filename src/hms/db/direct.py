"""SELECTs run by asyncpg itself on a read-only session's connection (issue 5).

An audited patient read spent about half of its Python time in SQLAlchemy's execution of
one single-row SELECT: the ORM's compile-cache lookup and loading, the asyncpg adapter's
greenlet hand-offs and result wrapping. Measured 2026-12-07 (3,000 reads one at a time,
``process_time``): the ORM path 0.50-0.59 ms a read with its session, Core
``exec_driver_sql`` on a held connection 0.19-0.21 ms, asyncpg's own ``fetchrow`` 0.06 ms.

:class:`DirectSelect` keeps SQLAlchemy for what it is good at here (the statement written
once as a Core ``select()``, compiled once per dialect; the columns' types, whose result
processors decrypt :class:`~hms.core.crypto.EncryptedString` values; the session's pooled
connection, checked out and returned as usual) and hands the execution to asyncpg.

Only sessions in autocommit on PostgreSQL qualify (:meth:`DirectSelect.usable`: the
sessions of :func:`~hms.db.session.read_only` routes): a statement run past SQLAlchemy
would otherwise run outside the transaction SQLAlchemy starts lazily. Errors keep the
contract of a SQLAlchemy execution: a dropped connection is invalidated and surfaces as
:class:`sqlalchemy.exc.DBAPIError` with ``connection_invalidated`` (the 503
``database_unavailable`` answer); any other database error as a plain ``DBAPIError``. The
statement's parameters are never part of the error (patient data).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

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


class DirectSelect:
    """A Core ``select()`` run by asyncpg on a read-only session's connection.

    Args:
        stmt: the statement, with named ``bindparam()``s for the values given at run time;
            its selected columns name the keys of the returned dicts (``select(Patient)``
            gives every column of the table under its attribute key).

    Use :meth:`usable` first; on other sessions run ``stmt`` through the session as usual.
    """

    def __init__(self, stmt: Select[Any]) -> None:
        self.stmt = stmt
        self._compiled: dict[type[Dialect], _Compiled] = {}

    @staticmethod
    def usable(session: AsyncSession) -> bool:
        """True when ``session`` runs on PostgreSQL through asyncpg in autocommit (the
        session of a :func:`~hms.db.session.read_only` route there)."""
        bind = session.bind
        if not isinstance(bind, AsyncEngine) or bind.dialect.driver != "asyncpg":
            return False  # SQLite, or a session joined to a connection (tests, jobs)
        return bind.get_execution_options().get("isolation_level") == "AUTOCOMMIT"

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(type(dialect))
        if compiled is None:
            done = self.stmt.compile(dialect=dialect)
            defaults = done.construct_params(_check=False)
            params = tuple(
                (name, defaults.get(name),
                 done.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
                for name in done.positiontup or ())
            columns = tuple(
                (str(column.key),
                 column.type.dialect_impl(dialect).result_processor(dialect, None))
                for column in self.stmt.selected_columns)
            compiled = self._compiled[type(dialect)] = _Compiled(done.string, params, columns)
        return compiled

    async def first(self, session: AsyncSession, **values: Any) -> dict[str, Any] | None:
        """The first row for ``values`` (the statement's bind parameters by name) as
        ``{column key: value}`` with each column's type applied (decrypted, converted), or
        None when there is none.

        Raises:
            ValueError: ``session`` is not :meth:`usable`.
            sqlalchemy.exc.DBAPIError: the database refused the statement; with
                ``connection_invalidated`` when the connection was lost (it is then
                invalidated, so the pool replaces it).
        """
        if not self.usable(session):
            raise ValueError("DirectSelect needs an autocommit asyncpg session")
        connection = await session.connection()
        compiled = self._compile(connection.dialect)
        args = [processor(values.get(name, default)) if processor
                else values.get(name, default)
                for name, default, processor in compiled.params]
        raw: asyncpg.Connection[Any] = (await connection.get_raw_connection()).driver_connection
        try:
            record = await raw.fetchrow(compiled.sql, *args)
        except Exception as error:
            # The server refused the statement: the connection is fine. Anything else (the
            # link dropped, the server went away, the client's protocol state broke, as
            # when a termination arrives mid-statement) invalidates it, as SQLAlchemy does
            # for a disconnect: the pool replaces it. Other pooled connections are pinged
            # before use when they sat idle, or fail and are replaced on their own.
            lost = (not isinstance(error, asyncpg.PostgresError)
                    or isinstance(error, _SERVER_DISCONNECTS))
            if lost:
                await connection.invalidate(error)
            raise DBAPIError(compiled.sql, None, error, hide_parameters=True,
                             connection_invalidated=lost) from error
        if record is None:
            return None
        return {key: processor(value) if processor else value
                for (key, processor), value in zip(compiled.columns, record, strict=True)}

