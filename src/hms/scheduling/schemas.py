"""Pydantic schemas of the scheduling module (seed 004 appointments)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator


class AppointmentStatus(StrEnum):
    """Seed 004 section 7 AppointmentStatus (labels SCHEDULED... accepted in any case)."""

    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"

    @classmethod
    def _missing_(cls, value: object) -> AppointmentStatus | None:
        if isinstance(value, str):
            lowered = value.strip().lower().replace(" ", "_").replace("-", "_")
            for member in cls:
                if member.value == lowered:
                    return member
        return None


class AppointmentType(StrEnum):
    """Seed 004 section 7 AppointmentType (labels CONSULTATION... accepted in any case)."""

    CONSULTATION = "consultation"
    FOLLOW_UP = "follow_up"
    EMERGENCY = "emergency"
    ROUTINE_CHECKUP = "routine_checkup"
    PROCEDURE = "procedure"

    @classmethod
    def _missing_(cls, value: object) -> AppointmentType | None:
        if isinstance(value, str):
            lowered = value.strip().lower().replace(" ", "_").replace("-", "_")
            for member in cls:
                if member.value == lowered:
                    return member
        return None


#: Statuses that do not hold the doctor's time (they never block another booking).
NON_BLOCKING = frozenset({AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW})

Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
#: HCMS 11.2 "duration must be positive"; we bound it to a sensible clinic slot: 15 minutes
#: to 8 hours.
Duration = Annotated[int, Field(ge=15, le=480, description="Minutes, 15..480")]


def _no_tz(value: time | None) -> time | None:
    # appointment_time is a UTC wall-clock time; an explicit offset is converted to UTC so
    # "09:00+02:00" books 07:00 UTC rather than being silently misread.
    if value is None or value.tzinfo is None:
        return value
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=None)
    base = datetime.combine(date(2000, 1, 3), value.replace(tzinfo=None)) - offset
    return base.time()


class AppointmentCreate(BaseModel):
    """Body of ``POST /appointments`` (seed 004 field names). Date and time are UTC."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    department_id: uuid.UUID | None = None
    appointment_date: date
    appointment_time: time
    duration_minutes: Duration = 30
    appointment_type: AppointmentType = AppointmentType.CONSULTATION
    status: AppointmentStatus | None = Field(
        None, description="Only 'scheduled' (the default) or 'confirmed' on create")
    reason: Reason | None = None
    notes: Notes | None = None

    @field_validator("appointment_time")
    @classmethod
    def _utc_time(cls, value: time | None) -> time | None:
        return _no_tz(value)


class AppointmentUpdate(BaseModel):
    """Body of ``PUT /appointments/{id}``; every field optional. A new time, duration or
    doctor is re-checked (not in the past, no overlap, active doctor). ``status`` moves
    only along the status machine. ``version`` (or ``If-Match``) is optional here: when
    given it must match."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    doctor_id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None
    appointment_date: date | None = None
    appointment_time: time | None = None
    duration_minutes: Duration | None = None
    appointment_type: AppointmentType | None = None
    status: AppointmentStatus | None = None
    reason: Reason | None = None
    notes: Notes | None = None
    cancelled_reason: Reason | None = None
    version: int | None = Field(None, ge=1, description="Version read (optional)")

    @field_validator("appointment_time")
    @classmethod
    def _utc_time(cls, value: time | None) -> time | None:
        return _no_tz(value)


class AppointmentCancel(BaseModel):
    """Body of ``POST /appointments/{id}/cancel`` (optional)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    reason: Reason | None = None


class AppointmentRead(BaseModel):
    """An appointment as returned by the API and by the service to other modules."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    department_id: uuid.UUID | None
    appointment_date: date
    appointment_time: time
    duration_minutes: int
    starts_at: datetime
    ends_at: datetime
    appointment_type: AppointmentType
    status: AppointmentStatus
    reason: str | None
    notes: str | None
    cancelled_reason: str | None
    visit_id: uuid.UUID | None
    created_by: uuid.UUID | None
    checked_in_at: datetime | None
    consultation_started_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class PatientBrief(BaseModel):
    """The patient of an appointment in ``/details`` (no identifiers beyond the number)."""

    id: uuid.UUID
    patient_number: str
    full_name: str
    date_of_birth: date | None
    gender: str | None
    is_active: bool


class DoctorBrief(BaseModel):
    """The doctor of an appointment in ``/details``."""

    id: uuid.UUID
    username: str
    full_name: str | None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None
    role: str
    department: str | None
    is_active: bool


class DepartmentBrief(BaseModel):
    """The department of an appointment in ``/details``."""

    id: uuid.UUID
    name: str
    description: str | None = None


class AppointmentDetails(AppointmentRead):
    """``GET /appointments/{id}/details``: the appointment with patient, doctor and
    department (each loaded in one batched call)."""

    patient: PatientBrief | None
    doctor: DoctorBrief | None
    department: DepartmentBrief | None


class AppointmentSort(StrEnum):
    """Allowed sort keys for ``GET /appointments`` (prefix ``-`` for descending)."""

    APPOINTMENT_DATE = "appointment_date"
    APPOINTMENT_TIME = "appointment_time"
    STARTS_AT = "starts_at"
    STATUS = "status"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


def brief(model: type[BaseModel], value: Any) -> Any:
    """``value`` (a schema of another module) as ``model``, or None."""
    if value is None:
        return None
    data = value.model_dump() if isinstance(value, BaseModel) else dict(value)
    return model.model_validate({k: data.get(k) for k in model.model_fields if k in data})
