"""Schemas of the patient history and details views."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hms.clinical.schemas import DiagnosisRead, VitalSignsRead
from hms.documents.schemas import DocumentRead
from hms.forms.schemas import FormSubmissionRead
from hms.organization.schemas import InsuranceProviderRead
from hms.patients.schemas import MedicalRecordRead, PatientRead, PatientSummary
from hms.visits.schemas import VisitRead


class VisitHistory(VisitRead):
    """One visit with what was recorded on it."""

    forms: list[FormSubmissionRead]
    diagnoses: list[DiagnosisRead]
    vital_signs: list[VitalSignsRead]
    documents: list[DocumentRead]


class PatientHistory(BaseModel):
    """A patient's visits, newest first, each with its forms, diagnoses, vitals, documents."""

    patient: PatientSummary
    visits: list[VisitHistory]
    total_visits: int


class PatientDetails(BaseModel):
    """``GET /patients/{patient_ssn}/details`` (seed 004): the patient with its insurance
    provider, medical record and appointments (newest first), loaded in a constant number
    of queries."""

    patient: PatientRead
    insurance_provider: InsuranceProviderRead | None
    medical_record: MedicalRecordRead | None
    # hms.scheduling.schemas.AppointmentRead (typed once part C's schemas land).
    appointments: list[Any]
