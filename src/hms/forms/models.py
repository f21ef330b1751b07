"""ORM classes of the forms module (private)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hms.db.base import Base, new_id, utcnow


class FormSubmission(Base):
    """One filled form on a visit: code, version, status draft/completed/amended, who, when."""

    __tablename__ = "form_submissions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient_visits.id"), index=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    form_code: Mapped[str] = mapped_column(String(20), index=True)
    form_version: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="completed")
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class FormAmendment(Base):
    """The answers a completed form held before an edit (amendment history)."""

    __tablename__ = "form_amendments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("form_submissions.id"), index=True
    )
    amended_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    amended_at: Mapped[datetime] = mapped_column(default=utcnow)
    previous_version: Mapped[int] = mapped_column(Integer)
    previous_answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)


class NursingAssessment(Base):
    """SH.MR.FRM.05: vital signs (row in ``vital_signs``), pain, fall risk, nursing notes."""

    __tablename__ = "nursing_assessments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("form_submissions.id"), unique=True
    )
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient_visits.id"), unique=True)
    vital_signs_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("vital_signs.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    assessed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    assessed_at: Mapped[datetime] = mapped_column(default=utcnow)


class PainAssessment(Base):
    """Pain on the 0-10 numeric rating scale, with site, character, onset and duration."""

    __tablename__ = "pain_assessment"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    nursing_assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("nursing_assessments.id", ondelete="CASCADE"), unique=True
    )
    pain_score: Mapped[int] = mapped_column(Integer)
    site: Mapped[str | None] = mapped_column(String(200))
    character: Mapped[str | None] = mapped_column(String(100))
    onset: Mapped[str | None] = mapped_column(String(100))
    duration: Mapped[str | None] = mapped_column(String(100))


class FallRiskAssessment(Base):
    """Morse Fall Scale: six items, total 0-125, band low (0-24) / moderate (25-44) /
    high (45+)."""

    __tablename__ = "fall_risk_assessment"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    nursing_assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("nursing_assessments.id", ondelete="CASCADE"), unique=True
    )
    history_of_falling: Mapped[bool] = mapped_column(Boolean)
    secondary_diagnosis: Mapped[bool] = mapped_column(Boolean)
    ambulatory_aid: Mapped[str] = mapped_column(String(30))
    iv_therapy: Mapped[bool] = mapped_column(Boolean)
    gait: Mapped[str] = mapped_column(String(30))
    mental_status: Mapped[str] = mapped_column(String(30))
    total_score: Mapped[int] = mapped_column(Integer)
    risk_level: Mapped[str] = mapped_column(String(10), index=True)


class RadiologyAssessment(Base):
    """SH.MR.FRM.04, filled by a physician."""

    __tablename__ = "radiology_assessments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("form_submissions.id"), unique=True
    )
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient_visits.id"), index=True)
    modality: Mapped[str] = mapped_column(String(20))
    body_region: Mapped[str] = mapped_column(String(100))
    clinical_indication: Mapped[str] = mapped_column(Text)
    contrast_used: Mapped[bool] = mapped_column(Boolean, default=False)
    contrast_type: Mapped[str | None] = mapped_column(String(20))
    contrast_agent: Mapped[str | None] = mapped_column(String(100))
    contrast_allergy: Mapped[bool | None] = mapped_column(Boolean)
    egfr_ml_min_1_73m2: Mapped[float | None] = mapped_column(Float)
    serum_creatinine_mg_dl: Mapped[float | None] = mapped_column(Float)
    pregnancy_status: Mapped[str | None] = mapped_column(String(20))
    # Safety acknowledgements a physician gave to proceed past a contrast rule (revision 0003).
    premedication_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    renal_risk_acknowledged: Mapped[bool | None] = mapped_column(Boolean)
    pregnancy_risk_acknowledged: Mapped[bool | None] = mapped_column(Boolean)
    findings: Mapped[str | None] = mapped_column(Text)
    impression: Mapped[str | None] = mapped_column(Text)
    recommendation: Mapped[str | None] = mapped_column(Text)
    assessed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    assessed_at: Mapped[datetime] = mapped_column(default=utcnow)
