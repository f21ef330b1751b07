"""Counting the matches of a paged query, optionally only up to a cap."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def count_matches(session: AsyncSession, stmt: Select[Any], *,
                        cap: int | None = None) -> tuple[int, bool]:
    """``(count, exact)``: the rows ``stmt`` returns, counted up to ``cap`` when given.

    Counting reads every match, so a list over a large table can stop at ``cap``: the count
    is then ``cap`` and ``exact`` is False (``Page.total_exact``). Callers skip this when
    their page already holds every match.
    """
    if cap is not None:
        stmt = stmt.limit(cap + 1)
    counted = int(await session.scalar(select(func.count()).select_from(stmt.subquery()))
                  or 0)
    if cap is None:
        return counted, True
    return min(counted, cap), counted <= cap
