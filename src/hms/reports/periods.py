"""Calendar periods of the reports: UTC days, ISO weeks (Monday to Sunday) and months.

Pure functions, no I/O. Statistics come from the database per UTC day; they are summed into
periods here, which behaves the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum


class Period(StrEnum):
    """Grouping of a time series: ``day``, ``week`` (ISO, starts Monday) or ``month``."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Bucket:
    """One period of a series, clipped to the report range.

    ``label`` is ``2025-03-07`` (day), ``2025-W10`` (ISO week) or ``2025-03`` (month);
    ``start``/``end`` are the inclusive first and last day inside the report range.
    """

    label: str
    start: date
    end: date


def period_start(day: date, period: Period) -> date:
    """First day of the period holding ``day`` (Monday for weeks, the 1st for months)."""
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return day


def _next_start(first: date, period: Period) -> date:
    if period is Period.WEEK:
        return first + timedelta(days=7)
    if period is Period.MONTH:
        return (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first + timedelta(days=1)


def label(first: date, period: Period) -> str:
    """Display label of the period starting on ``first``."""
    if period is Period.WEEK:
        year, week, _ = first.isocalendar()
        return f"{year}-W{week:02d}"
    if period is Period.MONTH:
        return f"{first.year:04d}-{first.month:02d}"
    return first.isoformat()


def buckets(start: date, end: date, period: Period) -> list[Bucket]:
    """Every period overlapping ``[start, end]`` (inclusive), in order, none skipped.

    The first and last bucket are clipped to the range, so a week that began before
    ``start`` reports ``start`` as its first day.
    """
    out: list[Bucket] = []
    first = period_start(start, period)
    while first <= end:
        nxt = _next_start(first, period)
        out.append(Bucket(label(first, period), max(first, start),
                          min(nxt - timedelta(days=1), end)))
        first = nxt
    return out


def sum_into(buckets_: list[Bucket], period: Period, per_day: Mapping[date, int]
             ) -> list[int]:
    """Totals of ``per_day`` counts per bucket; days outside ``buckets_`` are ignored."""
    index = {period_start(b.start, period): i for i, b in enumerate(buckets_)}
    totals = [0] * len(buckets_)
    for day, count in per_day.items():
        i = index.get(period_start(day, period))
        if i is not None and buckets_[i].start <= day <= buckets_[i].end:
            totals[i] += count
    return totals


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """``[first 00:00 UTC, last + 1 day 00:00 UTC)``: the instants of an inclusive day range."""
    return (datetime.combine(first, time.min, UTC),
            datetime.combine(last + timedelta(days=1), time.min, UTC))
