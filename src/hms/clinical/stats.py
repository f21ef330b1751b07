"""Aggregate statistics over the ``vital_signs`` table, for reports.

Module-internal SQL. Counts only (no patient identifiers), so results may end up in an
export.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.clinical.models import VitalSigns

# name -> condition on one vital-sign value; a NULL value never counts.
_RULES: dict[str, ColumnElement[bool]] = {
    "temperature_high": VitalSigns.temperature_celsius >= 38.0,
    "temperature_low": VitalSigns.temperature_celsius < 36.0,
    "pulse_high": VitalSigns.pulse_bpm > 100,
    "pulse_low": VitalSigns.pulse_bpm < 60,
    "systolic_high": VitalSigns.blood_pressure_systolic >= 140,
    "systolic_low": VitalSigns.blood_pressure_systolic < 90,
    "diastolic_high": VitalSigns.blood_pressure_diastolic >= 90,
    "oxygen_saturation_low": VitalSigns.oxygen_saturation_percent < 95.0,
    "respiratory_rate_high": VitalSigns.respiratory_rate_per_min > 20,
    "respiratory_rate_low": VitalSigns.respiratory_rate_per_min < 12,
}

#: Keys of :func:`out_of_range_counts`, in display order.
OUT_OF_RANGE_KEYS: tuple[str, ...] = (*_RULES, "total", "sets_with_any", "sets_recorded")


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """SUM of rows where ``condition`` is true (NULL, i.e. a missing value, counts 0)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def out_of_range_counts(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> dict[str, int]:
    """Vital-sign values outside the adult reference ranges, recorded in ``[start, end)``.

    Thresholds (adults at rest): temperature >= 38.0 °C (fever) or < 36.0 °C; pulse
    > 100 or < 60 beats/min; systolic >= 140 or < 90 mmHg; diastolic >= 90 mmHg;
    SpO2 < 95 %; respiratory rate > 20 or < 12 breaths/min.

    Args:
        start: first instant counted (UTC), or None for no lower bound.
        end: first instant no longer counted (UTC), or None for no upper bound.

    Returns:
        One count per rule (``temperature_high``, ``temperature_low``, ``pulse_high``,
        ``pulse_low``, ``systolic_high``, ``systolic_low``, ``diastolic_high``,
        ``oxygen_saturation_low``, ``respiratory_rate_high``, ``respiratory_rate_low``),
        ``total`` (their sum: out-of-range values), ``sets_with_any`` (vital-sign sets with
        at least one out-of-range value) and ``sets_recorded`` (all sets in the window).
        Missing values are never counted as out of range.

    Source: Royal College of Physicians (2017) National Early Warning Score (NEWS) 2 —
    respiratory rate 12-20 and temperature 36.1-38.0 °C are its zero-score bands; pulse
    60-100 beats/min is the conventional adult resting range (NEWS2 scores from 91);
    blood pressure >= 140/90 mmHg is hypertension per the 2020 ISH and 2023 ESH guidelines
    and systolic < 90 mmHg hypotension; SpO2 < 95 % is below the usual target of
    a patient without hypercapnic respiratory failure (NEWS2 SpO2 scale 1 scores from 95).
    These are the thresholds of the hospital's assessment report, not NEWS2 scoring.
    """
    any_rule = or_(*_RULES.values())
    columns = [_flag(c).label(name) for name, c in _RULES.items()]
    stmt = select(*columns, _flag(any_rule).label("sets_with_any"),
                  func.count().label("sets_recorded"))
    if start is not None:
        stmt = stmt.where(VitalSigns.recorded_at >= start)
    if end is not None:
        stmt = stmt.where(VitalSigns.recorded_at < end)
    row = (await session.execute(stmt)).one()._mapping
    out = {name: int(row[name] or 0) for name in _RULES}
    out["total"] = sum(out.values())
    out["sets_with_any"] = int(row["sets_with_any"] or 0)
    out["sets_recorded"] = int(row["sets_recorded"] or 0)
    return out
