"""Schemas of the privacy module: legal holds, erasure requests, the patient data export."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from hms.clinical.schemas import DiagnosisRead, VitalSignsRead
from hms.documents.schemas import DocumentRead
from hms.forms.schemas import FormSubmissionRead, NursingAssessmentRead, RadiologyAssessmentRead
from hms.patients.schemas import PatientRead
from hms.visits.schemas import VisitRead

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                          max_length=2000)]


class ExportFormat(StrEnum):
    """``json``: hms's own document (:class:`PatientExport`); ``fhir``: a FHIR R4 Bundle
    of type collection (``application/fhir+json``)."""

    JSON = "json"
    FHIR = "fhir"


class LegalHoldUpdate(BaseModel):
    """Body of ``PUT /patients/{patient_ssn}/legal-hold``. A reason is required to place a
    hold (it is what a later reviewer needs); lifting one may give one."""

    model_config = ConfigDict(extra="forbid")

    active: bool
    reason: Reason | None = None

    @model_validator(mode="after")
    def _reason_when_active(self) -> LegalHoldUpdate:
        if self.active and not self.reason:
            raise ValueError("reason is required to place a legal hold")
        return self


class LegalHoldRead(BaseModel):
    """A patient's legal hold state."""

    model_config = ConfigDict(from_attributes=True)

    patient_id: uuid.UUID
    active: bool
    reason: str | None
    set_by: uuid.UUID | None
    set_at: datetime | None = Field(description="When the state last changed (null: never "
                                                "held)")


class ErasureOutcome(StrEnum):
    """How an erasure request was decided (on creation)."""

    #: Within the retention period: ``earliest_erasure_date`` says when it can be honoured.
    DENIED_RETENTION = "denied_retention"
    #: The patient's records are under legal hold.
    DENIED_LEGAL_HOLD = "denied_legal_hold"
    #: The identifying data and the document files were erased.
    COMPLETED = "completed"


class ErasureRequestCreate(BaseModel):
    """Body of ``POST /patients/{patient_ssn}/erasure-requests``."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why erasure is requested (e.g. the patient's "
                                       "written request reference)")
    requested_by_patient: bool = Field(
        True, description="True when the data subject asked; false for an institutional "
        "request")


class ErasureRequestRead(BaseModel):
    """An erasure request and its outcome."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    reason: str | None
    requested_by_patient: bool
    requested_by: uuid.UUID | None
    requested_at: datetime
    outcome: ErasureOutcome
    last_visit_at: datetime | None = Field(
        description="Start (or end) of the patient's last visit, UTC; null without visits")
    earliest_erasure_date: date | None = Field(
        description="First day erasure is allowed: last visit + retention_years (null "
        "without visits)")
    retention_years: int
    documents_erased: int = Field(description="Document files deleted (completed only)")


class ErasureRequestPage(BaseModel):
    """A page of erasure requests, newest first."""

    items: list[ErasureRequestRead]
    total: int
    page: int
    page_size: int


class VisitExport(VisitRead):
    """One visit with everything recorded on it."""

    forms: list[FormSubmissionRead]
    nursing_assessment: NursingAssessmentRead | None
    radiology_assessments: list[RadiologyAssessmentRead]
    vital_signs: list[VitalSignsRead]
    diagnoses: list[DiagnosisRead]
    documents: list[DocumentRead] = Field(description="Metadata only; files are not "
                                                      "embedded")


class Disclosure(BaseModel):
    """One access to the patient's data from the audit trail (who, when, what)."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: datetime
    user_id: uuid.UUID | None
    username: str | None
    action: str
    entity_type: str
    entity_id: str | None


class PatientExport(BaseModel):
    """All of a patient's data held by hms (``GET /patients/{patient_ssn}/export``).

    Visits are oldest first, each with its forms (SH.MR.FRM.05 with amendments, SH.MR.FRM.04),
    vital signs, diagnoses and document metadata; vital signs and diagnoses recorded without
    a visit are listed apart. ``disclosures`` is the accounting of accesses to this patient's
    data from the audit trail, newest first.
    """

    export_format: Literal["hms.patient-export"] = "hms.patient-export"
    export_version: int = 1
    generated_at: datetime
    generated_by: uuid.UUID
    patient: PatientRead
    visits: list[VisitExport]
    vital_signs_without_visit: list[VitalSignsRead]
    diagnoses_without_visit: list[DiagnosisRead]
    legal_hold: LegalHoldRead | None
    erasure_requests: list[ErasureRequestRead]
    disclosures: list[Disclosure]
    disclosures_truncated: bool = Field(
        description="True when only the newest disclosures are listed")
