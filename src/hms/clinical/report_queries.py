"""Figures of the seed 004 report files over ``consultations`` and ``prescriptions``.

Module-internal SQL for :mod:`hms.reports` (doctor_performance). Counts per doctor id only;
no clinical content leaves this module.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.clinical.models import Consultation, Prescription


async def doctor_clinical_counts(session: AsyncSession, *, since: datetime,
                                 before: datetime, start: date, end: date
                                 ) -> dict[uuid.UUID, dict[str, int]]:
    """Per doctor: consultations held in ``[since, before)`` (``consultation_date``),
    how many of them are completed, and prescriptions written ``start``..``end``
    (``prescribed_date``, inclusive).

    Returns:
        ``{doctor_id: {"consultations": n, "consultations_completed": n,
        "prescriptions": n}}`` (doctors with none of these are absent).
    """
    out: dict[uuid.UUID, dict[str, int]] = {}

    def row(doctor_id: uuid.UUID) -> dict[str, int]:
        return out.setdefault(doctor_id, {"consultations": 0, "consultations_completed": 0,
                                          "prescriptions": 0})

    consultations = (
        select(Consultation.doctor_id, Consultation.status, func.count())
        .where(Consultation.consultation_date >= since, Consultation.consultation_date < before)
        .group_by(Consultation.doctor_id, Consultation.status))
    for doctor_id, status, n in (await session.execute(consultations)).all():
        row(doctor_id)["consultations"] += int(n)
        if status == "completed":
            row(doctor_id)["consultations_completed"] += int(n)

    prescriptions = (
        select(Prescription.doctor_id, func.count())
        .where(Prescription.prescribed_date >= start, Prescription.prescribed_date <= end)
        .group_by(Prescription.doctor_id))
    for doctor_id, n in (await session.execute(prescriptions)).all():
        row(doctor_id)["prescriptions"] += int(n)
    return out
