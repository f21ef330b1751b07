"""Where PostgreSQL must plan a statement for its values (issue 5).

hms's connections leave ``plan_cache_mode`` at the server's default, ``auto``: a statement
prepared on a connection (asyncpg prepares every one) is planned for its values five times,
then PostgreSQL keeps one generic plan for it when that plan is not estimated to cost more
than the custom ones did. For the short statements of a clinic's day that saves the
planning each execution: measured 2026-12-07, the patient read's SELECT 0.080-0.090 ms of
PostgreSQL CPU planned every time against 0.033 with its generic plan; a patient read in all
(its SELECT and its share of the audit append) 0.37-0.39 ms against 0.28-0.29.

A generic plan cannot use a ``LIKE`` pattern's fixed start: ``name_search LIKE $1`` is no
index range in it, and the name search read the whole patients table that way (seen at a
million patients, 2026-12-06). Its word tiers are planned from the statistics of the words
they name as well. :func:`custom_plans` therefore makes a connection plan every statement
for its values while a prefix or name search runs on it (PostgreSQL documentation,
"PREPARE", notes on generic and custom plans; runtime setting ``plan_cache_mode``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from hms.db.direct import DirectStatement
from hms.db.session import in_autocommit

_FORCE = DirectStatement(text("SET plan_cache_mode = force_custom_plan"))
_RESET = DirectStatement(text("RESET plan_cache_mode"))


@contextlib.asynccontextmanager
async def custom_plans(session: AsyncSession) -> AsyncIterator[None]:
    """Inside the block, every statement ``session`` runs on PostgreSQL is planned for its
    own values (``plan_cache_mode = force_custom_plan`` on its connection); elsewhere a
    no-op.

    In a transaction the setting is ``SET LOCAL`` (gone when the transaction ends, committed
    or rolled back). On an autocommit session (a read-only route's) it is set on the
    connection and reset when the block ends, one round trip each (simple protocol, a few
    tens of microseconds); if the block raised, a failure to reset is not raised over the
    block's error (a connection that was lost is invalidated and replaced by the pool; one
    left planning every statement is only slower).

    Raises:
        sqlalchemy.exc.DBAPIError: setting or resetting failed (the connection is lost:
            ``connection_invalidated``).
    """
    bind = session.bind
    if bind is None or bind.dialect.name != "postgresql":
        yield
        return
    connection = await session.connection()
    if not in_autocommit(session):
        await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
        yield
        return
    await _FORCE.execute(connection)
    try:
        yield
    except BaseException:
        with contextlib.suppress(DBAPIError):
            await _RESET.execute(connection)
        raise
    await _RESET.execute(connection)
