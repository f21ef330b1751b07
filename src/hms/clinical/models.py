"""ORM classes of the clinical module (private)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hms.db.base import Base, TimestampMixin, new_id, utcnow


class VitalSigns(TimestampMixin, Base):
    """One set of vital signs (ONE table for all seeds). Field names follow seed 000's
    VitalSigns; units are in the names (Celsius, beats/min, mmHg, breaths/min, %, kg, cm).
    Seed 004 adds ``notes`` and the appointment the set was taken for (``appointment_id``)."""

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
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    temperature_celsius: Mapped[float | None] = mapped_column(Float)
    pulse_bpm: Mapped[int | None] = mapped_column(Integer)
    blood_pressure_systolic: Mapped[int | None] = mapped_column(Integer)
    blood_pressure_diastolic: Mapped[int | None] = mapped_column(Integer)
    respiratory_rate_per_min: Mapped[int | None] = mapped_column(Integer)
    oxygen_saturation_percent: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    height_cm: Mapped[float | None] = mapped_column(Float)
    bmi: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id"), index=True
    )
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


class Consultation(TimestampMixin, Base):
    """A physician's consultation of one appointment (seed 004 ``consultations``), tied to
    the visit opened at check-in. Status: in_progress -> completed."""

    __tablename__ = "consultations"
    __table_args__ = (
        Index("ix_consultations_patient_id_consultation_date", "patient_id",
              "consultation_date"),
        Index("ix_consultations_doctor_id_consultation_date", "doctor_id",
              "consultation_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id"), unique=True
    )
    visit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patient_visits.id"), index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    consultation_date: Mapped[datetime] = mapped_column(default=utcnow)
    chief_complaint: Mapped[str | None] = mapped_column(Text)
    present_illness: Mapped[str | None] = mapped_column(Text)
    examination_findings: Mapped[str | None] = mapped_column(Text)
    diagnosis: Mapped[str | None] = mapped_column(Text)
    treatment_plan: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    follow_up_required: Mapped[bool] = mapped_column(Boolean, default=False)
    follow_up_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="in_progress", index=True)
    completed_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Prescription(TimestampMixin, Base):
    """One medication order (seed 004 ``prescriptions``: one drug a row). Valid 30 days
    from ``prescribed_date``; ``is_active`` false once stopped (never deleted)."""

    __tablename__ = "prescriptions"
    __table_args__ = (
        Index("ix_prescriptions_patient_id_is_active", "patient_id", "is_active"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    consultation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("consultations.id"), index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    medication_name: Mapped[str] = mapped_column(String(200))
    dosage: Mapped[str] = mapped_column(String(100))
    frequency: Mapped[str] = mapped_column(String(100))
    duration: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int | None] = mapped_column(Integer)
    route: Mapped[str | None] = mapped_column(String(50))
    special_instructions: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    prescribed_date: Mapped[date] = mapped_column(Date)
    allergy_override: Mapped[bool] = mapped_column(Boolean, default=False)
