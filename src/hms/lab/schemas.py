"""Pydantic schemas of the lab module (seed 004 ``lab_tests``).

This module imports no other hms module: ``hms.clinical.schemas`` imports it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints


class LabTestStatus(StrEnum):
    """Seed 004 section 7 LabTestStatus (FHIR ServiceRequest/DiagnosticReport status:
    active -> ... -> final, or revoked)."""

    ORDERED = "ordered"
    SAMPLE_COLLECTED = "sample_collected"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @classmethod
    def _missing_(cls, value: object) -> LabTestStatus | None:
        # Seed 004 labels (ORDERED, SAMPLE_COLLECTED, "Sample Collected"...).
        if isinstance(value, str):
            key = value.strip().lower().replace(" ", "_").replace("-", "_")
            for member in cls:
                if member.value == key:
                    return member
        return None


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
ResultValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=2000)]


class LabTestOrder(BaseModel):
    """One test to order (item of ``POST /consultations/{id}/complete`` ``lab_tests`` and
    the core of ``POST /lab-tests``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    test_name: Name
    test_type: Short | None = None
    notes: Text | None = None


class LabTestCreate(LabTestOrder):
    """Body of ``POST /lab-tests``. The ordering doctor is the caller
    (``ordered_by_doctor_id``, when sent, must be the caller); ``ordered_date`` defaults to
    now (UTC, timezone required)."""

    patient_id: uuid.UUID
    consultation_id: uuid.UUID | None = None
    visit_id: uuid.UUID | None = None
    ordered_by_doctor_id: uuid.UUID | None = Field(
        None, validation_alias=AliasChoices("ordered_by_doctor_id", "doctor_id"))
    ordered_date: AwareDatetime | None = None


class LabTestUpdate(BaseModel):
    """Body of ``PUT /lab-tests/{id}``; every field optional. ``status`` moves one step
    along the machine (e.g. sample_collected -> in_progress) or to cancelled; results are
    never written here (422 ``results_not_editable``: use enter-results). ``version`` (or
    ``If-Match``), when sent, must be the version read (412 otherwise)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    status: LabTestStatus | None = None
    test_name: Name | None = None
    test_type: Short | None = None
    notes: Text | None = None
    cancelled_reason: Text | None = None
    # Accepted only to answer a named 422 (results_not_editable) instead of "extra field".
    result_value: str | None = Field(None, max_length=2000)
    result_unit: str | None = Field(None, max_length=50)
    reference_range: str | None = Field(None, max_length=100)
    result_date: str | None = Field(None, max_length=40)
    version: int | None = Field(None, ge=1)


class SampleCollection(BaseModel):
    """Body of ``POST /lab-tests/{id}/collect-sample`` (optional): when the sample was
    taken (default now; not before the order, not in the future) and a note."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sample_collected_date: AwareDatetime | None = Field(
        None, validation_alias=AliasChoices("sample_collected_date", "collected_at"))
    notes: Text | None = None
    version: int | None = Field(None, ge=1)


class LabResultEntry(BaseModel):
    """Body of ``POST /lab-tests/{id}/enter-results``: ``result_value`` required;
    ``result_date`` defaults to now (not before the sample, not in the future)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    result_value: ResultValue
    result_unit: Unit | None = Field(None, validation_alias=AliasChoices("result_unit",
                                                                        "unit"))
    reference_range: Short | None = None
    result_date: AwareDatetime | None = None
    notes: Text | None = None
    version: int | None = Field(None, ge=1)


class LabTestRead(BaseModel):
    """A lab test as returned by the API and to other modules."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    consultation_id: uuid.UUID | None
    visit_id: uuid.UUID | None
    ordered_by_doctor_id: uuid.UUID
    test_name: str
    test_type: str | None
    ordered_date: datetime
    sample_collected_date: datetime | None
    result_date: datetime | None
    result_value: str | None
    result_unit: str | None
    reference_range: str | None
    status: LabTestStatus
    notes: str | None
    cancelled_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class LabTestSort(StrEnum):
    """Allowed sort keys of ``GET /lab-tests`` (prefix ``-`` for descending)."""

    ORDERED_DATE = "ordered_date"
    SAMPLE_COLLECTED_DATE = "sample_collected_date"
    RESULT_DATE = "result_date"
    STATUS = "status"
    TEST_NAME = "test_name"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
