"""Pydantic schemas of the visits module."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

from hms.clinical.schemas import ICD10Code


class VisitStatus(StrEnum):
    """open -> in_progress -> closed, or cancelled (FHIR Encounter.status: planned/arrived
    -> in-progress -> finished / cancelled)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class VisitType(StrEnum):
    """Encounter class: outpatient (AMB), emergency (EMER), inpatient (IMP), home (HH),
    virtual (VR)."""

    OUTPATIENT = "outpatient"
    EMERGENCY = "emergency"
    INPATIENT = "inpatient"
    HOME = "home"
    VIRTUAL = "virtual"


Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class VisitCreate(BaseModel):
    """Body of ``POST /visits``: ``patient_id`` is any patient reference (UUID, patient
    number or national ID)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    patient_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                 max_length=64)] = Field(
        validation_alias=AliasChoices("patient_id", "patient_ssn", "patient_ref"))
    visit_type: VisitType = VisitType.OUTPATIENT
    department: Short | None = None
    chief_complaint: Text | None = None
    attending_physician_id: uuid.UUID | None = None
    notes: Text | None = None


class VisitUpdate(BaseModel):
    """Body of ``PUT /visits/{visit_id}``; every field optional. ``version`` (or an
    ``If-Match`` header) is required: the version the client read."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    status: VisitStatus | None = None
    diagnosis: Text | None = Field(None, validation_alias=AliasChoices("diagnosis",
                                                                      "diagnoses"))
    diagnosis_icd10_code: ICD10Code | None = Field(
        None, validation_alias=AliasChoices("diagnosis_icd10_code", "icd10_code"))
    notes: Text | None = None
    chief_complaint: Text | None = None
    department: Short | None = None
    attending_physician_id: uuid.UUID | None = None
    version: int | None = Field(None, ge=1, description="Version read; or send If-Match")


class VisitImport(BaseModel):
    """A visit from an outside source (FHIR Encounter)."""

    status: VisitStatus
    visit_type: VisitType = VisitType.OUTPATIENT
    department: str | None = None
    chief_complaint: str | None = None
    started_at: datetime
    ended_at: datetime | None = None


class VisitRead(BaseModel):
    """A visit as returned by the API."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    status: VisitStatus
    visit_type: VisitType
    department: str | None
    chief_complaint: str | None
    attending_physician_id: uuid.UUID | None
    opened_by: uuid.UUID | None
    started_at: datetime
    ended_at: datetime | None
    closed_by: uuid.UUID | None = None
    diagnosis: str | None
    diagnosis_icd10_code: str | None
    notes: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class VisitSort(StrEnum):
    """Allowed sort keys for ``GET /visits`` (prefix ``-`` for descending)."""

    STARTED_AT = "started_at"
    STATUS = "status"
    UPDATED_AT = "updated_at"
