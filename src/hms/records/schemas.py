"""Schemas of the patient history view."""

from __future__ import annotations

from pydantic import BaseModel

from hms.clinical.schemas import DiagnosisRead, VitalSignsRead
from hms.documents.schemas import DocumentRead
from hms.forms.schemas import FormSubmissionRead
from hms.patients.schemas import PatientSummary
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
