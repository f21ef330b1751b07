"""Builders for report tests: patients registered and visits started on chosen days.

Patients are registered through the patients service (tests/patients/factories.py), then
their registration time is moved to the day a test needs (the service always stamps "now").
Synthetic data only.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from hms.core.auth import Principal
from hms.core.permissions import Role, permissions_for
from hms.patients.models import Patient
from hms.patients.schemas import PatientRead
from hms.reports import service as reports_service
from hms.reports.schemas import ExportFormat, ReportRange, ReportType
from hms.visits.models import Visit
from hms.visits.schemas import VisitRead
from tests.identity.factories import make_user
from tests.patients.factories import make_patient, national_id
from tests.visits.factories import make_visit

_seq = itertools.count(1)


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """``day`` at ``hour:minute`` UTC."""
    return datetime.combine(day, time(hour, minute), UTC)


def utc_today() -> date:
    """Today's UTC calendar day (the reports' "today")."""
    return datetime.now(UTC).date()


def now_minus(days: int = 0, hours: int = 0) -> datetime:
    """The current instant minus ``days`` and ``hours`` (UTC)."""
    return datetime.now(UTC) - timedelta(days=days, hours=hours)


async def registered_patient(
    session: AsyncSession,
    *,
    registered_at: datetime | None = None,
    date_of_birth: date | None = None,
    gender: str | None = "male",
    active: bool = True,
) -> PatientRead:
    """A patient registered at ``registered_at`` (default now).

    Male and female patients with a birth date get a matching national ID; others (no birth
    date, gender other/unknown) get a passport number instead.
    """
    data: dict[str, Any] = {"gender": gender, "date_of_birth": date_of_birth}
    if gender in ("male", "female") and date_of_birth is not None:
        data["national_id"] = national_id(date_of_birth, gender=gender)
    else:
        data["national_id"] = None
        data["passport_number"] = f"RPT{next(_seq):07d}"
    patient = await make_patient(session, **data)
    values: dict[str, Any] = {}
    if registered_at is not None:
        values["created_at"] = registered_at
    if not active:
        values["is_active"] = False
    if values:
        await session.execute(update(Patient).where(Patient.id == patient.id).values(**values))
        await session.commit()
    return patient


async def visit_on(
    session: AsyncSession,
    started_at: datetime,
    *,
    status: str = "open",
    department: str | None = None,
    patient_id: uuid.UUID | None = None,
    ended_at: datetime | None = None,
) -> VisitRead:
    """A visit started at ``started_at`` (a new patient unless ``patient_id`` is given)."""
    if ended_at is None and status in ("closed", "cancelled"):
        ended_at = started_at + timedelta(hours=1)
    return await make_visit(session, patient_id, status=status, department=department,
                            started_at=started_at, ended_at=ended_at)


async def set_visit_status(session: AsyncSession, visit_id: uuid.UUID, status: str,
                           ended_at: datetime | None = None) -> None:
    """Move a visit to ``status`` (e.g. close it after its forms were filled)."""
    await session.execute(update(Visit).where(Visit.id == visit_id).values(
        status=status, ended_at=ended_at or datetime.now(UTC)))
    await session.commit()


async def queued_job(session: AsyncSession) -> uuid.UUID:
    """A job inserted through the service and never started."""
    user = await make_user(session, Role.ADMIN)
    actor = Principal(user_id=user.id, username=user.username, role=Role.ADMIN,
                      permissions=permissions_for(Role.ADMIN), session_id=uuid.uuid4(),
                      token_id="test")
    accepted = await reports_service.request_export(
        session, actor, ReportType.DASHBOARD, ExportFormat.CSV,
        ReportRange(start=date(2024, 1, 1), end=date(2024, 1, 31)))
    await session.commit()
    return accepted.job_id


__all__ = ["at", "now_minus", "queued_job", "registered_patient", "set_visit_status",
           "utc_today", "visit_on"]
