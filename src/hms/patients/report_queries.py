"""Figures of the seed 004 ``patient_statistics`` report file, over the ``patients`` table.

Module-internal SQL for :mod:`hms.reports` (HCMS 10 "Report Generation Workflow"). Counts
only: no names, numbers or identifiers leave this module. Only active patient records count
(a deactivated record is a merged duplicate or a mistaken registration). Registration time
is ``patients.created_at`` (UTC).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.patients import stats
from hms.patients.models import Patient


async def patient_statistics(session: AsyncSession, *, since: datetime, before: datetime,
                             as_of: date) -> dict[str, Any]:
    """New registrations in ``[since, before)`` and the population registered before
    ``before``.

    Args:
        since: inclusive lower bound of the registration time (UTC-aware).
        before: exclusive upper bound (UTC-aware).
        as_of: the day ages are computed at (the report's last day).

    Returns:
        ``{"new_registrations": n, "total_registered": n,
        "new_by_gender": {"male": n, "female": n, "other": n, "unknown": n, ...},
        "new_by_age_band": {"0-17": n, ..., "65+": n, "unknown": n},
        "new_per_day": {date: n}}`` (days without registrations are absent).
    """
    in_range = (Patient.is_active.is_(True), Patient.created_at >= since,
                Patient.created_at < before)

    genders = select(func.coalesce(Patient.gender, stats.UNKNOWN).label("k")).where(
        *in_range).subquery()
    by_gender = dict.fromkeys(stats.GENDERS, 0)
    for value, count in (await session.execute(
            select(genders.c.k, func.count()).group_by(genders.c.k))).all():
        key = str(value).lower()
        by_gender[key] = by_gender.get(key, 0) + int(count)

    dob = Patient.date_of_birth
    band = case(
        (dob.is_(None), stats.UNKNOWN),
        (dob > stats._years_before(as_of, 18), "0-17"),
        (dob > stats._years_before(as_of, 35), "18-34"),
        (dob > stats._years_before(as_of, 50), "35-49"),
        (dob > stats._years_before(as_of, 65), "50-64"),
        else_="65+",
    )
    bands = select(band.label("k")).where(*in_range).subquery()
    by_band = dict.fromkeys((*stats.AGE_BANDS, stats.UNKNOWN), 0)
    for key, count in (await session.execute(
            select(bands.c.k, func.count()).group_by(bands.c.k))).all():
        by_band[str(key)] = int(count)

    per_day = await stats.registrations_per_day(session, since=since, before=before)
    return {
        "new_registrations": sum(per_day.values()),
        "total_registered": await stats.count_registered(session, before=before),
        "new_by_gender": by_gender,
        "new_by_age_band": by_band,
        "new_per_day": per_day,
    }
