"""ORM classes of the lab module (private)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hms.db.base import Base, TimestampMixin, new_id, utcnow

#: Seed 004 section 7 LabTestStatus, stored lower case.
LAB_TEST_STATUSES = ("ordered", "sample_collected", "in_progress", "completed", "cancelled")


class LabTest(TimestampMixin, Base):
    """One ordered laboratory test (seed 004 ``lab_tests``: one test a row) with its
    result. Status: ordered -> sample_collected -> in_progress -> completed; any non-final
    status -> cancelled. Never hard-deleted."""

    __tablename__ = "lab_tests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('ordered', 'sample_collected', 'in_progress', 'completed', "
            "'cancelled')", name="status"),
        Index("ix_lab_tests_patient_id_ordered_date", "patient_id", "ordered_date"),
        Index("ix_lab_tests_status_ordered_date", "status", "ordered_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    consultation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("consultations.id"), index=True
    )
    visit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patient_visits.id"), index=True
    )
    ordered_by_doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    test_name: Mapped[str] = mapped_column(String(200))
    test_type: Mapped[str | None] = mapped_column(String(100))
    ordered_date: Mapped[datetime] = mapped_column(default=utcnow)
    sample_collected_date: Mapped[datetime | None] = mapped_column()
    result_date: Mapped[datetime | None] = mapped_column()
    result_value: Mapped[str | None] = mapped_column(Text)
    result_unit: Mapped[str | None] = mapped_column(String(50))
    reference_range: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="ordered")
    notes: Mapped[str | None] = mapped_column(Text)
    cancelled_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    # Optimistic concurrency: every UPDATE carries "AND version = :old".
    __mapper_args__ = {"version_id_col": version}
