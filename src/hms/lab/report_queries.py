"""Figures of the seed 004 report files over ``lab_tests``.

Module-internal SQL for :mod:`hms.reports` (doctor_performance, operational_metrics).
Counts and durations only; no test names or results leave this module.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.lab.models import LabTest


async def orders_per_doctor(session: AsyncSession, *, since: datetime, before: datetime
                            ) -> dict[uuid.UUID, int]:
    """Lab tests ordered in ``[since, before)`` (``ordered_date``) per ordering doctor,
    cancelled orders included (the order was still made).

    Returns:
        ``{ordered_by_doctor_id: n}``.
    """
    stmt = (select(LabTest.ordered_by_doctor_id, func.count())
            .where(LabTest.ordered_date >= since, LabTest.ordered_date < before)
            .group_by(LabTest.ordered_by_doctor_id))
    return {doctor_id: int(n) for doctor_id, n in (await session.execute(stmt)).all()}


async def turnaround(session: AsyncSession, *, since: datetime, before: datetime
                     ) -> dict[str, Any]:
    """Lab turnaround of the tests ordered in ``[since, before)``: hours from
    ``ordered_date`` to ``result_date`` of the completed ones.

    Returns:
        ``{"ordered": n, "completed": n, "cancelled": n, "turnaround_hours_avg": float |
        None, "turnaround_hours_max": float | None}``.
    """
    stmt = select(LabTest.status, LabTest.ordered_date, LabTest.result_date).where(
        LabTest.ordered_date >= since, LabTest.ordered_date < before)
    rows = (await session.execute(stmt)).all()
    hours = [(result - ordered).total_seconds() / 3600 for status, ordered, result in rows
             if status == "completed" and result is not None]
    return {
        "ordered": len(rows),
        "completed": sum(1 for r in rows if r[0] == "completed"),
        "cancelled": sum(1 for r in rows if r[0] == "cancelled"),
        "turnaround_hours_avg": sum(hours) / len(hours) if hours else None,
        "turnaround_hours_max": max(hours) if hours else None,
    }
