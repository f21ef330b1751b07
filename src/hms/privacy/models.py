"""ORM classes of the privacy module (private)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hms.db.base import Base, new_id, utcnow


class LegalHold(Base):
    """The legal hold state of one patient's records (one row per patient ever held; the
    audit trail keeps every change)."""

    __tablename__ = "legal_holds"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    set_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class ErasureRequest(Base):
    """An erasure request and its outcome, decided when it is made."""

    __tablename__ = "erasure_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by_patient: Mapped[bool] = mapped_column(Boolean)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    outcome: Mapped[str] = mapped_column(String(30))
    last_visit_at: Mapped[datetime | None] = mapped_column()
    earliest_erasure_date: Mapped[date | None] = mapped_column(Date)
    retention_years: Mapped[int] = mapped_column(Integer)
    documents_erased: Mapped[int] = mapped_column(Integer, default=0)
