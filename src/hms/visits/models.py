"""ORM classes of the visits module (private)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hms.db.base import Base, TimestampMixin, new_id, utcnow


class Visit(TimestampMixin, Base):
    """One visit (encounter). Status: open -> in_progress -> closed, or cancelled."""

    __tablename__ = "patient_visits"
    __table_args__ = (
        UniqueConstraint("source_system", "source_id", name="uq_patient_visits_source"),
        Index("ix_patient_visits_status_started_at", "status", "started_at"),
        Index("ix_patient_visits_patient_id_started_at", "patient_id", "started_at"),
        Index("ix_patient_visits_started_at", "started_at"),
        Index("ix_patient_visits_status_ended_at", "status", "ended_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    status: Mapped[str] = mapped_column(String(20), default="open")
    visit_type: Mapped[str] = mapped_column(String(20), default="outpatient")
    department: Mapped[str | None] = mapped_column(String(100), index=True)
    chief_complaint: Mapped[str | None] = mapped_column(Text)
    attending_physician_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id"), index=True
    )
    opened_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    closed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    diagnosis: Mapped[str | None] = mapped_column(Text)
    diagnosis_icd10_code: Mapped[str | None] = mapped_column(String(10))
    notes: Mapped[str | None] = mapped_column(Text)
    source_system: Mapped[str | None] = mapped_column(String(200))
    source_id: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)

    # The ORM adds "AND version = :old" to every UPDATE and raises StaleDataError when another
    # writer got there first: optimistic concurrency that holds under real races.
    __mapper_args__ = {"version_id_col": version}
