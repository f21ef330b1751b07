"""Builders for appointments (synthetic data only).

:func:`make_appointment` writes the row directly (any status, any time, even in the past)
for tests that need an appointment as a precondition; the booking rules themselves are
tested over HTTP with :func:`booking_payload`.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hms.scheduling.models import Appointment
from hms.scheduling.schemas import AppointmentRead
from hms.scheduling.service import interval
from tests.identity.factories import make_doctor
from tests.patients.factories import make_patient

_seq = itertools.count(1)


def future_slot(days: int = 1, hour: int = 9, minute: int = 0) -> tuple[date, time]:
    """A UTC date ``days`` from today and a wall-clock time on it."""
    day = datetime.now(UTC).date() + timedelta(days=days)
    return day, time(hour, minute)


def distinct_slot() -> tuple[date, time]:
    """A future 30-minute slot no other call of this function returns nor overlaps
    (half-hour grid 08:00-19:30 UTC, from the day after tomorrow)."""
    n = next(_seq)
    day = datetime.now(UTC).date() + timedelta(days=2 + n // 24)
    minutes = (n % 24) * 30 + 8 * 60
    return day, time(minutes // 60, minutes % 60)


def booking_payload(patient_id: uuid.UUID | str, doctor_id: uuid.UUID | str,
                    **overrides: Any) -> dict[str, Any]:
    """A ``POST /appointments`` body (seed 004 field names), tomorrow 09:00 UTC, 30 min."""
    day, at = future_slot()
    body: dict[str, Any] = {
        "patient_id": str(patient_id), "doctor_id": str(doctor_id),
        "appointment_date": day.isoformat(), "appointment_time": at.isoformat(),
        "duration_minutes": 30, "appointment_type": "consultation",
        "reason": "Follow-up of blood pressure",
    }
    body.update(overrides)
    return body


async def make_appointment(
    session: AsyncSession, *, patient_id: uuid.UUID | None = None,
    doctor_id: uuid.UUID | None = None, department_id: uuid.UUID | None = None,
    appointment_date: date | None = None, appointment_time: time | None = None,
    duration_minutes: int = 30, status: str = "scheduled", **overrides: Any,
) -> AppointmentRead:
    """Insert an appointment row (committed to the test's savepoint); creates the patient
    and the doctor when not given. Default slot: a distinct future slot."""
    if patient_id is None:
        patient_id = (await make_patient(session)).id
    if doctor_id is None:
        doctor_id = (await make_doctor(session)).id
    if appointment_date is None or appointment_time is None:
        d, t = distinct_slot()
        appointment_date = appointment_date or d
        appointment_time = appointment_time or t
    starts_at, ends_at = interval(appointment_date, appointment_time, duration_minutes)
    values: dict[str, Any] = {
        "patient_id": patient_id, "doctor_id": doctor_id, "department_id": department_id,
        "appointment_date": appointment_date, "appointment_time": appointment_time,
        "duration_minutes": duration_minutes, "starts_at": starts_at, "ends_at": ends_at,
        "appointment_type": "consultation", "status": status, "reason": "Check-up",
    }
    values.update(overrides)
    row = Appointment(**values)
    session.add(row)
    await session.flush()
    await session.commit()
    return AppointmentRead.model_validate(row)


__all__ = ["booking_payload", "distinct_slot", "future_slot", "make_appointment"]
