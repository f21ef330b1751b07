"""Aggregate statistics over the ``patient_visits`` table, for the reports module.

Module-internal SQL. Every function returns counts only (no patient identifiers), so the
results may leave the module and end up in an export. A visit's day is the UTC calendar day
of ``started_at``; a closed visit's closing time is ``ended_at``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Date, Select, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from hms.visits.models import Visit
from hms.visits.schemas import VisitStatus

SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])

#: Every visit status, in workflow order (always present in a breakdown).
STATUSES: tuple[str, ...] = tuple(s.value for s in VisitStatus)
#: Statuses of a visit that is still going on (what physicians review).
ACTIVE_STATUSES: tuple[str, ...] = (VisitStatus.OPEN.value, VisitStatus.IN_PROGRESS.value)
#: Department key for visits with no department.
UNASSIGNED = "unassigned"


def _utc_day(session: AsyncSession, column: QueryableAttribute[datetime]
             ) -> ColumnElement[object]:
    """SQL expression: the UTC calendar day of a UTC timestamp column, on either dialect."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column)
    return cast(func.timezone("UTC", column), Date)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _started_between(stmt: SelectT, since: datetime | None, before: datetime | None
                     ) -> SelectT:
    if since is not None:
        stmt = stmt.where(Visit.started_at >= since)
    if before is not None:
        stmt = stmt.where(Visit.started_at < before)
    return stmt


async def count_started(
    session: AsyncSession, *, since: datetime | None = None, before: datetime | None = None
) -> int:
    """Number of visits started in ``[since, before)`` (any status).

    Args:
        since: inclusive lower bound on ``started_at`` (UTC-aware); None for no bound.
        before: exclusive upper bound (UTC-aware); None for no bound.
    """
    stmt = _started_between(select(func.count()).select_from(Visit), since, before)
    return int(await session.scalar(stmt) or 0)


async def count_closed(session: AsyncSession, *, since: datetime, before: datetime) -> int:
    """Number of visits with status ``closed`` whose ``ended_at`` is in ``[since, before)``.

    Args:
        since: inclusive lower bound (UTC-aware).
        before: exclusive upper bound (UTC-aware).
    """
    stmt = select(func.count()).select_from(Visit).where(
        Visit.status == VisitStatus.CLOSED.value,
        Visit.ended_at >= since,
        Visit.ended_at < before,
    )
    return int(await session.scalar(stmt) or 0)


async def status_counts(
    session: AsyncSession, *, since: datetime | None = None, before: datetime | None = None,
    statuses: Sequence[str] | None = None,
) -> dict[str, int]:
    """Visits started in ``[since, before)`` by their current status.

    Without bounds this is the state of the whole archive now (e.g. visits open now).

    Args:
        statuses: count only these (the others stay 0); e.g. :data:`ACTIVE_STATUSES` for
            what is going on now, one range of the ``(status, started_at)`` index instead
            of every visit ever.

    Returns:
        ``{"open": n, "in_progress": n, "closed": n, "cancelled": n}``.
    """
    stmt = _started_between(select(Visit.status, func.count()), since, before)
    if statuses is not None:
        stmt = stmt.where(Visit.status.in_(list(statuses)))
    out = dict.fromkeys(STATUSES, 0)
    for status, count in (await session.execute(stmt.group_by(Visit.status))).all():
        out[str(status)] = out.get(str(status), 0) + int(count)
    return out


async def department_counts(
    session: AsyncSession, *, since: datetime | None = None, before: datetime | None = None
) -> dict[str, int]:
    """Visits started in ``[since, before)`` by department, most visits first.

    Returns:
        ``{department: n}``; visits without a department count under ``"unassigned"``.
        Ties are ordered by name.
    """
    rows = _started_between(
        select(func.coalesce(Visit.department, UNASSIGNED).label("k")), since, before
    ).subquery()
    stmt = select(rows.c.k, func.count()).group_by(rows.c.k)
    pairs = [(str(k), int(c)) for k, c in (await session.execute(stmt)).all()]
    pairs.sort(key=lambda kc: (-kc[1], kc[0]))
    return dict(pairs)


async def visits_per_day(
    session: AsyncSession, *, since: datetime, before: datetime
) -> dict[date, dict[str, int]]:
    """Visits started per UTC day, split by current status.

    Args:
        since: inclusive lower bound on ``started_at`` (UTC-aware).
        before: exclusive upper bound (UTC-aware).

    Returns:
        ``{day: {status: n}}`` for days with at least one visit (statuses with no visit on
        that day are absent).
    """
    rows = (
        select(_utc_day(session, Visit.started_at).label("d"), Visit.status.label("s"))
        .where(Visit.started_at >= since, Visit.started_at < before)
        .subquery()
    )
    stmt = select(rows.c.d, rows.c.s, func.count()).group_by(rows.c.d, rows.c.s)
    out: dict[date, dict[str, int]] = {}
    for d, status, count in (await session.execute(stmt)).all():
        out.setdefault(_as_date(d), {})[str(status)] = int(count)
    return out


def active_visit_ids() -> Select[uuid.UUID]:
    """The ids of the visits going on now (status open or in_progress), as a statement for
    another module to use as a subquery (``IN (...)``), so that a count over them is one
    query however many there are; no patient data.

    Returns:
        ``SELECT patient_visits.id WHERE status IN ('open', 'in_progress')``.
    """
    return select(Visit.id).where(Visit.status.in_(ACTIVE_STATUSES))
