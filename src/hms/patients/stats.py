"""Aggregate statistics over the ``patients`` table, for the reports module.

Module-internal SQL. Every function returns counts only (no names, no identifiers), so the
results may leave the module and end up in an export. Only active patient records count
(``is_active``; a deactivated record is a merged duplicate or a mistaken registration).
Registration time is ``patients.created_at`` (UTC); days are UTC calendar days.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, Date, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from hms.patients.models import Patient

#: Age bands of the patients report, youngest first, then ``unknown`` (no date of birth).
AGE_BANDS: tuple[str, ...] = ("0-17", "18-34", "35-49", "50-64", "65+")
UNKNOWN = "unknown"
#: Genders always present in a breakdown (``unknown`` also counts a missing gender).
GENDERS: tuple[str, ...] = ("male", "female", "other", "unknown")


def _utc_day(session: AsyncSession, column: QueryableAttribute[datetime]
             ) -> ColumnElement[object]:
    """SQL expression: the UTC calendar day of a UTC timestamp column, on either dialect.

    SQLite stores timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff`` text in UTC, so ``date()``
    is enough; PostgreSQL converts the ``timestamptz`` to UTC wall time before the cast.
    """
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column)
    return cast(func.timezone("UTC", column), Date)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _years_before(day: date, years: int) -> date:
    """``day`` minus whole years; 29 February falls back to 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


async def count_registered(
    session: AsyncSession, *, since: datetime | None = None, before: datetime | None = None
) -> int:
    """Number of active patients registered in ``[since, before)``.

    Args:
        since: inclusive lower bound on registration time (UTC-aware); None for no bound.
        before: exclusive upper bound (UTC-aware); None for no bound.

    Returns:
        The count (0 or more).
    """
    stmt = select(func.count()).select_from(Patient).where(Patient.is_active.is_(True))
    if since is not None:
        stmt = stmt.where(Patient.created_at >= since)
    if before is not None:
        stmt = stmt.where(Patient.created_at < before)
    return int(await session.scalar(stmt) or 0)


async def gender_counts(session: AsyncSession, *, before: datetime) -> dict[str, int]:
    """Active patients registered before ``before``, by gender.

    Args:
        before: exclusive upper bound on registration time (UTC-aware).

    Returns:
        ``{"male": n, "female": n, "other": n, "unknown": n}``; a missing gender counts as
        ``unknown``; any other stored value gets its own key.
    """
    rows = (
        select(func.coalesce(Patient.gender, UNKNOWN).label("k"))
        .where(Patient.is_active.is_(True), Patient.created_at < before)
        .subquery()
    )
    stmt = select(rows.c.k, func.count()).group_by(rows.c.k)
    out = dict.fromkeys(GENDERS, 0)
    for value, count in (await session.execute(stmt)).all():
        key = str(value).lower()
        out[key] = out.get(key, 0) + int(count)
    return out


async def age_band_counts(
    session: AsyncSession, *, as_of: date, before: datetime
) -> dict[str, int]:
    """Active patients registered before ``before``, by age band at ``as_of``.

    Age is completed years between ``date_of_birth`` and ``as_of`` (a 29 February birthday
    counts from 1 March in common years). Bands: 0-17, 18-34, 35-49, 50-64, 65+; no date of
    birth -> ``unknown``.

    Args:
        as_of: the day ages are computed at.
        before: exclusive upper bound on registration time (UTC-aware).

    Returns:
        ``{"0-17": n, "18-34": n, "35-49": n, "50-64": n, "65+": n, "unknown": n}``.
    """
    dob = Patient.date_of_birth
    # A patient is at least N years old at as_of when born on or before as_of minus N years.
    band = case(
        (dob.is_(None), UNKNOWN),
        (dob > _years_before(as_of, 18), "0-17"),
        (dob > _years_before(as_of, 35), "18-34"),
        (dob > _years_before(as_of, 50), "35-49"),
        (dob > _years_before(as_of, 65), "50-64"),
        else_="65+",
    )
    # Grouped through a subquery: PostgreSQL refuses GROUP BY on an expression whose bound
    # parameters are numbered differently from the SELECT list's.
    rows = (
        select(band.label("k"))
        .where(Patient.is_active.is_(True), Patient.created_at < before)
        .subquery()
    )
    stmt = select(rows.c.k, func.count()).group_by(rows.c.k)
    out = dict.fromkeys((*AGE_BANDS, UNKNOWN), 0)
    for key, count in (await session.execute(stmt)).all():
        out[str(key)] = int(count)
    return out


async def registrations_per_day(
    session: AsyncSession, *, since: datetime, before: datetime
) -> dict[date, int]:
    """New active patients per UTC day, for days with at least one registration.

    Args:
        since: inclusive lower bound (UTC-aware).
        before: exclusive upper bound (UTC-aware).

    Returns:
        ``{day: count}`` (days without registrations are absent).
    """
    rows = (
        select(_utc_day(session, Patient.created_at).label("k"))
        .where(Patient.is_active.is_(True), Patient.created_at >= since,
               Patient.created_at < before)
        .subquery()
    )
    stmt = select(rows.c.k, func.count()).group_by(rows.c.k)
    return {_as_date(d): int(c) for d, c in (await session.execute(stmt)).all()}

