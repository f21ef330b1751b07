"""The import plan: what one bundle becomes before anything is written.

Records carry validated hms schemas (PatientCreate, VisitImport, VitalSignsInput,
DiagnosisImport), the bundle keys that link them, and their source ids.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from hms.clinical.schemas import DiagnosisImport, VitalSignsInput
from hms.patients.schemas import PatientCreate
from hms.visits.schemas import VisitImport


@dataclass(slots=True)
class PatientRecord:
    """A Patient mapped to a validated PatientCreate, with its bundle key."""

    key: str
    source_id: str
    data: PatientCreate
    deceased_at: datetime | None = None


@dataclass(slots=True)
class VisitRecord:
    """An Encounter mapped to a visit."""

    key: str
    source_id: str
    patient_key: str
    data: VisitImport


@dataclass(slots=True)
class VitalsRecord:
    """Vital-sign Observations of one patient, encounter and time, as one row."""

    source_id: str
    patient_key: str
    visit_key: str | None
    recorded_at: datetime
    data: VitalSignsInput


@dataclass(slots=True)
class DiagnosisRecord:
    """A Condition mapped to a diagnosis."""

    source_id: str
    patient_key: str
    visit_key: str | None
    data: DiagnosisImport


@dataclass(slots=True)
class ImportPlan:
    """Everything to write for one bundle, in dependency order, plus counted skips/warnings.

    ``source_system`` identifies where the records come from; with each record's
    ``source_id`` it is the identity that makes re-imports idempotent.
    """

    source_system: str
    patients: list[PatientRecord] = field(default_factory=list)
    visits: list[VisitRecord] = field(default_factory=list)
    vitals: list[VitalsRecord] = field(default_factory=list)
    diagnoses: list[DiagnosisRecord] = field(default_factory=list)
    resources: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
