"""Figures of the seed 004 report files over the ``appointments`` table.

Module-internal SQL for :mod:`hms.reports` (appointment_summary, doctor_performance,
operational_metrics). Aggregates only, keyed by status, type, department or doctor ids; no
patient data. An appointment belongs to a report when its ``appointment_date`` lies within
the report's inclusive day range.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.scheduling.models import Appointment

#: Statuses that never took place and are left out of the no-show rate's denominator.
_NOT_HELD = ("cancelled",)


def _in_range(start: date, end: date) -> tuple[Any, ...]:
    return (Appointment.appointment_date >= start, Appointment.appointment_date <= end)


async def _grouped(session: AsyncSession, column: Any, start: date, end: date
                   ) -> dict[Any, int]:
    stmt = (select(column, func.count()).where(*_in_range(start, end)).group_by(column))
    return {key: int(n) for key, n in (await session.execute(stmt)).all()}


async def appointment_summary(session: AsyncSession, *, start: date, end: date
                              ) -> dict[str, Any]:
    """Appointments dated ``start``..``end`` (inclusive).

    Returns:
        ``{"total": n, "by_status": {status: n}, "by_type": {appointment_type: n},
        "by_department": {department_id | None: n}, "per_day": {date: n}}``.
    """
    by_status = await _grouped(session, Appointment.status, start, end)
    return {
        "total": sum(by_status.values()),
        "by_status": {str(k): v for k, v in by_status.items()},
        "by_type": {str(k): v for k, v in
                    (await _grouped(session, Appointment.appointment_type, start, end)).items()},
        "by_department": await _grouped(session, Appointment.department_id, start, end),
        "per_day": await _grouped(session, Appointment.appointment_date, start, end),
    }


async def doctor_appointment_counts(session: AsyncSession, *, start: date, end: date
                                    ) -> dict[uuid.UUID, dict[str, int]]:
    """Per doctor, appointments dated ``start``..``end``.

    Returns:
        ``{doctor_id: {"appointments": n, "completed": n, "no_show": n, "cancelled": n}}``.
    """
    stmt = (select(Appointment.doctor_id, Appointment.status, func.count())
            .where(*_in_range(start, end))
            .group_by(Appointment.doctor_id, Appointment.status))
    out: dict[uuid.UUID, dict[str, int]] = {}
    for doctor_id, status, n in (await session.execute(stmt)).all():
        row = out.setdefault(doctor_id, {"appointments": 0, "completed": 0, "no_show": 0,
                                         "cancelled": 0})
        row["appointments"] += int(n)
        if status in ("completed", "no_show", "cancelled"):
            row[status] += int(n)
    return out


def _minutes(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 60


async def operational_figures(session: AsyncSession, *, start: date, end: date
                              ) -> dict[str, Any]:
    """Waiting and attendance figures of appointments dated ``start``..``end``.

    The wait is check-in (``checked_in_at``) to the start of the consultation
    (``consultation_started_at``, set when the appointment moves to in_progress), in
    minutes, over the appointments that have both. The no-show rate is no_show over the
    appointments that were not cancelled (None when there are none).

    Returns:
        ``{"appointments": n, "held_or_missed": n, "no_show": n, "no_show_rate": float |
        None, "checked_in": n, "wait_samples": n, "wait_minutes_avg": float | None,
        "wait_minutes_max": float | None}``.
    """
    stmt = select(Appointment.status, Appointment.checked_in_at,
                  Appointment.consultation_started_at).where(*_in_range(start, end))
    rows = (await session.execute(stmt)).all()
    statuses = Counter(str(r[0]) for r in rows)
    held_or_missed = sum(n for s, n in statuses.items() if s not in _NOT_HELD)
    waits = [_minutes(started, checked) for _, checked, started in rows
             if checked is not None and started is not None]
    return {
        "appointments": len(rows),
        "held_or_missed": held_or_missed,
        "no_show": statuses.get("no_show", 0),
        "no_show_rate": (statuses.get("no_show", 0) / held_or_missed
                         if held_or_missed else None),
        "checked_in": sum(1 for r in rows if r[1] is not None),
        "wait_samples": len(waits),
        "wait_minutes_avg": sum(waits) / len(waits) if waits else None,
        "wait_minutes_max": max(waits) if waits else None,
    }
