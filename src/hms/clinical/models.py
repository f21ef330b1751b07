"""ORM classes of the clinical module (private)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hms.db.base import Base, new_id, utcnow


class VitalSigns(Base):
    """One set of vital signs (ONE table for all seeds). Field names follow seed 000's
    VitalSigns; units are in the names (Celsius, beats/min, mmHg, breaths/min, %, kg, cm)."""

    __tablename__ = "vital_signs"
    __table_args__ = (
        UniqueConstraint("source_system", "source_id", name="uq_vital_signs_source"),
        Index("ix_vital_signs_patient_id_recorded_at", "patient_id", "recorded_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    visit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patient_visits.id"), index=True
    )
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    temperature_celsius: Mapped[float | None] = mapped_column(Float)
    pulse_bpm: Mapped[int | None] = mapped_column(Integer)
    blood_pressure_systolic: Mapped[int | None] = mapped_column(Integer)
    blood_pressure_diastolic: Mapped[int | None] = mapped_column(Integer)
    respiratory_rate_per_min: Mapped[int | None] = mapped_column(Integer)
    oxygen_saturation_percent: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    height_cm: Mapped[float | None] = mapped_column(Float)
    bmi: Mapped[float | None] = mapped_column(Float)
    source_system: Mapped[str | None] = mapped_column(String(200))
    source_id: Mapped[str | None] = mapped_column(String(100))


class Diagnosis(Base):
    """A diagnosis [Condition], ICD-10 or SNOMED CT coded when a code is given."""

    __tablename__ = "diagnoses"
    __table_args__ = (
        UniqueConstraint("source_system", "source_id", name="uq_diagnoses_source"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patient_visits.id"), index=True
    )
    code: Mapped[str | None] = mapped_column(String(20))
    code_system: Mapped[str | None] = mapped_column(String(100))
    display: Mapped[str] = mapped_column(Text)
    clinical_status: Mapped[str] = mapped_column(String(20), default="active")
    onset_date: Mapped[date | None] = mapped_column(Date)
    abatement_date: Mapped[date | None] = mapped_column(Date)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    source_system: Mapped[str | None] = mapped_column(String(200))
    source_id: Mapped[str | None] = mapped_column(String(100))
