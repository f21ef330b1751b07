"""Pydantic schemas of the clinical module (vital signs, diagnoses, consultations,
prescriptions)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    computed_field,
    model_validator,
)

from hms.identity.schemas import UserRead
from hms.lab.schemas import LabTestOrder, LabTestRead
from hms.patients.schemas import PatientSummary


class VitalSignsInput(BaseModel):
    """One set of vital signs. Ranges are seed 000's VitalSigns plus weight and height.

    Units: temperature degrees Celsius, pulse beats/min, blood pressure mmHg, respiratory rate
    breaths/min, SpO2 percent, weight kg, height cm.
    """

    model_config = ConfigDict(extra="forbid")

    temperature_celsius: float | None = Field(None, ge=30.0, le=45.0)
    pulse_bpm: int | None = Field(None, ge=30, le=200)
    blood_pressure_systolic: int | None = Field(None, ge=70, le=250)
    blood_pressure_diastolic: int | None = Field(None, ge=40, le=150)
    respiratory_rate_per_min: int | None = Field(None, ge=8, le=60)
    oxygen_saturation_percent: float | None = Field(None, ge=70.0, le=100.0)
    weight_kg: float | None = Field(None, ge=0.3, le=500.0)
    height_cm: float | None = Field(None, ge=20.0, le=280.0)

    @model_validator(mode="after")
    def _pressure_order(self) -> VitalSignsInput:
        s, d = self.blood_pressure_systolic, self.blood_pressure_diastolic
        if s is not None and d is not None and s <= d:
            raise ValueError("blood_pressure_systolic must be greater than "
                             "blood_pressure_diastolic")
        return self


class VitalSignsRead(BaseModel):
    """A stored set of vital signs with the server-derived BMI (kg/m², one decimal).

    Not a subclass of an input schema: rows recorded on the seed 004 route (wider ranges)
    and the nursing form (seed 000 ranges) both read back.
    """

    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: uuid.UUID
    patient_id: uuid.UUID
    visit_id: uuid.UUID | None
    appointment_id: uuid.UUID | None = None
    recorded_by: uuid.UUID | None
    recorded_at: datetime
    temperature_celsius: float | None = None
    pulse_bpm: int | None = None
    blood_pressure_systolic: int | None = None
    blood_pressure_diastolic: int | None = None
    respiratory_rate_per_min: int | None = None
    oxygen_saturation_percent: float | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    bmi: float | None
    notes: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


ICD10_PATTERN = r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$"



def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


# ICD-10 code format (letter, two digits, optional dot and up to 4 characters), e.g. J18.9.
# Source: WHO ICD-10 / CDC ICD-10-CM code structure.
ICD10Code = Annotated[str, BeforeValidator(_upper),
                      StringConstraints(pattern=ICD10_PATTERN, max_length=8)]


class DiagnosisImport(BaseModel):
    """A coded diagnosis from an outside source (FHIR Condition)."""

    code: str | None = Field(None, max_length=20)
    code_system: str | None = Field(None, max_length=100)
    display: str = Field(..., min_length=1, max_length=2000)
    clinical_status: str = Field("active", max_length=20)
    onset_date: date | None = None
    abatement_date: date | None = None


class DiagnosisRead(DiagnosisImport):
    """A stored diagnosis [Condition]."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    visit_id: uuid.UUID | None
    recorded_by: uuid.UUID | None
    recorded_at: datetime


# --- seed 004 (HCMS): vital signs, consultations, prescriptions --------------------------

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Hcms004Vitals(BaseModel):
    """Vital-sign values with seed 004 section 12 ranges (the ``/vital-signs`` route).

    Seed 004 12: temperature 35-43.3 °C, pulse 40-200 beats/min, SpO2 70-100 %, respiratory
    rate > 0, weight and height > 0, systolic > diastolic (checked by the service on the
    merged values). Upper bounds not in the seed (blood pressure <= 300 mmHg, respiratory
    rate <= 100/min, weight <= 700 kg, height <= 300 cm) only keep values physiologically
    possible and inside the integer columns.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    temperature_celsius: float | None = Field(None, ge=35.0, le=43.3)
    pulse_bpm: int | None = Field(None, ge=40, le=200, validation_alias=AliasChoices(
        "pulse_bpm", "pulse_rate"))
    blood_pressure_systolic: int | None = Field(None, gt=0, le=300, validation_alias=AliasChoices(
        "blood_pressure_systolic", "systolic_bp"))
    blood_pressure_diastolic: int | None = Field(
        None, gt=0, le=300,
        validation_alias=AliasChoices("blood_pressure_diastolic", "diastolic_bp"))
    respiratory_rate_per_min: int | None = Field(
        None, gt=0, le=100,
        validation_alias=AliasChoices("respiratory_rate_per_min", "respiratory_rate"))
    oxygen_saturation_percent: float | None = Field(
        None, ge=70.0, le=100.0,
        validation_alias=AliasChoices("oxygen_saturation_percent", "oxygen_saturation"))
    weight_kg: float | None = Field(None, gt=0, le=700.0)
    height_cm: float | None = Field(None, gt=0, le=300.0)
    notes: Note | None = None


class VitalSignsCreate(Hcms004Vitals):
    """Body of ``POST /vital-signs`` (seed 004 names accepted as aliases).

    The patient comes from ``patient_id``, ``appointment_id`` (checked in or in progress;
    its visit is filled in) or ``visit_id``; when several are given they must agree.
    ``recorded_by`` (alias ``recorded_by_user_id``) defaults to the caller.
    """

    patient_id: uuid.UUID | None = None
    appointment_id: uuid.UUID | None = None
    visit_id: uuid.UUID | None = None
    recorded_by: uuid.UUID | None = Field(
        None, validation_alias=AliasChoices("recorded_by", "recorded_by_user_id"))
    recorded_at: datetime | None = Field(None, description="UTC; default now; not in future")


class VitalSignsUpdate(Hcms004Vitals):
    """Body of ``PUT /vital-signs/{id}``: only the fields sent change (BMI re-derived)."""

    recorded_at: datetime | None = None


class VitalSignsSort(StrEnum):
    """Sort keys of ``GET /vital-signs``."""

    RECORDED_AT = "recorded_at"
    CREATED_AT = "created_at"


class ConsultationStatus(StrEnum):
    """in_progress (started from a checked-in appointment) -> completed."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class ConsultationFields(BaseModel):
    """The physician's note fields (seed 004 ``consultations``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    chief_complaint: Note | None = None
    present_illness: Note | None = None
    examination_findings: Note | None = None
    diagnosis: Note | None = None
    treatment_plan: Note | None = None
    notes: Note | None = None
    follow_up_required: bool | None = None
    follow_up_date: date | None = None


class ConsultationCreate(ConsultationFields):
    """Body of ``POST /consultations``. ``patient_id`` and ``doctor_id`` are optional: they
    come from the appointment and, when sent, must match it. ``consultation_date`` defaults
    to now and must fall on the appointment date (UTC)."""

    appointment_id: uuid.UUID
    patient_id: uuid.UUID | None = None
    doctor_id: uuid.UUID | None = None
    consultation_date: datetime | None = None


class ConsultationUpdate(ConsultationFields):
    """Body of ``PUT /consultations/{id}``: fields optional; ``version`` (or ``If-Match``)
    optional, refused with 412 when stale."""

    version: int | None = Field(None, ge=1)


class ConsultationRead(BaseModel):
    """A consultation as returned by the API and to other modules."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    appointment_id: uuid.UUID | None
    visit_id: uuid.UUID | None
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    consultation_date: datetime
    chief_complaint: str | None
    present_illness: str | None
    examination_findings: str | None
    diagnosis: str | None
    treatment_plan: str | None
    notes: str | None
    follow_up_required: bool
    follow_up_date: date | None
    status: ConsultationStatus
    completed_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class ConsultationSort(StrEnum):
    """Sort keys of ``GET /consultations``."""

    CONSULTATION_DATE = "consultation_date"
    CREATED_AT = "created_at"
    STATUS = "status"


PRESCRIPTION_VALIDITY_DAYS = 30  # seed 004 11: "Prescription validity is 30 days"


class PrescriptionItem(BaseModel):
    """One drug of a prescription (seed 004 ``prescriptions`` row)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    medication_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                      max_length=200)]
    dosage: ShortText
    frequency: ShortText
    duration: ShortText
    quantity: int | None = Field(None, gt=0, le=100_000)
    route: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = None
    special_instructions: Note | None = None
    prescribed_date: date | None = Field(None, description="Default today; not in the future")


class PrescriptionCreate(PrescriptionItem):
    """Body of ``POST /prescriptions``. ``patient_id``/``doctor_id`` optional (taken from
    the consultation and the caller; must match when sent). ``allergy_override`` saves a
    medication that matches a recorded allergy (the response carries the warning)."""

    consultation_id: uuid.UUID
    patient_id: uuid.UUID | None = None
    doctor_id: uuid.UUID | None = None
    is_active: bool = True
    allergy_override: bool = False


class PrescriptionUpdate(BaseModel):
    """Body of ``PUT /prescriptions/{id}``: only the fields sent change."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    medication_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                      max_length=200)] | None = None
    dosage: ShortText | None = None
    frequency: ShortText | None = None
    duration: ShortText | None = None
    quantity: int | None = Field(None, gt=0, le=100_000)
    route: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = None
    special_instructions: Note | None = None
    is_active: bool | None = None
    allergy_override: bool = False


class AllergyWarning(BaseModel):
    """A medication saved despite matching a recorded allergy (``allergy_override``)."""

    code: str = "allergy_conflict"
    allergy: str
    medication: str


class PrescriptionRead(BaseModel):
    """A prescription; ``valid_until`` = prescribed_date + 30 days, ``is_valid`` = active
    and today (UTC) within [prescribed_date, valid_until]."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    consultation_id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    medication_name: str
    dosage: str
    frequency: str
    duration: str
    quantity: int | None
    route: str | None
    special_instructions: str | None
    is_active: bool
    prescribed_date: date
    allergy_override: bool
    created_at: datetime
    updated_at: datetime
    warnings: list[AllergyWarning] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def valid_until(self) -> date:
        return self.prescribed_date + timedelta(days=PRESCRIPTION_VALIDITY_DAYS)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_valid(self) -> bool:
        from hms.clinical import clock

        return self.is_active and self.prescribed_date <= clock.today() <= self.valid_until


class PrescriptionSort(StrEnum):
    """Sort keys of ``GET /prescriptions``."""

    PRESCRIBED_DATE = "prescribed_date"
    MEDICATION_NAME = "medication_name"
    CREATED_AT = "created_at"


# --- consultation completion and details (lab orders via hms.lab.schemas) ----------------

class ConsultationComplete(ConsultationFields):
    """Body of ``POST /consultations/{id}/complete``: note fields to set, the prescriptions
    and lab tests to order (batch, at most 50 each), ``allergy_override`` for every
    prescription of the batch, optional ``version``."""

    prescriptions: list[PrescriptionItem] = Field(default_factory=list, max_length=50)
    lab_tests: list[LabTestOrder] = Field(default_factory=list, max_length=50)
    allergy_override: bool = False
    version: int | None = Field(None, ge=1)


class ConsultationCompleted(ConsultationRead):
    """The completed consultation with what the completion created; ``warnings`` lists the
    allergy conflicts saved under ``allergy_override``."""

    prescriptions: list[PrescriptionRead]
    lab_tests: list[LabTestRead]
    warnings: list[AllergyWarning] = Field(default_factory=list)


class ConsultationDetails(ConsultationRead):
    """``GET /consultations/{id}/details``: the consultation with its patient (identifiers
    masked per the caller's access), doctor, prescriptions and lab tests."""

    patient: PatientSummary | None
    doctor: UserRead | None
    prescriptions: list[PrescriptionRead]
    lab_tests: list[LabTestRead]
