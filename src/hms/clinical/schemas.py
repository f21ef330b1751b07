"""Pydantic schemas of the clinical module (vital signs, diagnoses)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)


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


class VitalSignsRead(VitalSignsInput):
    """A stored set of vital signs with the server-derived BMI (kg/m², one decimal)."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: uuid.UUID
    patient_id: uuid.UUID
    visit_id: uuid.UUID | None
    recorded_by: uuid.UUID | None
    recorded_at: datetime
    bmi: float | None


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
