"""ORM classes of the reports module (private)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hms.db.base import Base, TimestampMixin, new_id, utcnow

#: Seed 004 section 7 ReportType, stored lower case.
HCMS_REPORT_TYPES = ("patient_statistics", "revenue", "appointment_summary",
                     "service_utilization", "doctor_performance", "billing_summary",
                     "operational_metrics")
#: Seed 004 section 7 ReportStatus.
HCMS_REPORT_STATUSES = ("generating", "completed", "failed")


class ReportJob(Base):
    """An export request: queued -> running -> completed | failed."""

    __tablename__ = "report_jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    report_type: Mapped[str] = mapped_column(String(40))
    format: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    stored_name: Mapped[str | None] = mapped_column(String(100))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)


class Report(TimestampMixin, Base):
    """A generated report file (seed 004 ``reports``): requested with status
    ``generating``, built in the background, then ``completed`` (``file_path`` set, a
    generated name under the exports folder) or ``failed`` (``failure_reason``).
    Reports are not clinical records: deleting one removes its row and file."""

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint(
            "report_type IN ('patient_statistics', 'revenue', 'appointment_summary', "
            "'service_utilization', 'doctor_performance', 'billing_summary', "
            "'operational_metrics')", name="report_type"),
        CheckConstraint("status IN ('generating', 'completed', 'failed')", name="status"),
        CheckConstraint("format IN ('pdf', 'xlsx')", name="format"),
        CheckConstraint("start_date IS NULL OR end_date IS NULL OR start_date <= end_date",
                        name="date_range"),
        Index("ix_reports_generated_by_user_id_created_at", "generated_by_user_id",
              "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    report_name: Mapped[str] = mapped_column(String(200))
    report_type: Mapped[str] = mapped_column(String(40))
    generated_by_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    format: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default="generating", index=True)
    file_path: Mapped[str | None] = mapped_column(String(100))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column()
    generated_at: Mapped[datetime | None] = mapped_column()
