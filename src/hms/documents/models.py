"""ORM classes of the documents module (private)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hms.db.base import Base, new_id, utcnow


class VisitDocument(Base):
    """A stored file. ``stored_name`` is generated; the client's filename is kept for display
    only and never used as a path."""

    __tablename__ = "visit_documents"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient_visits.id"), index=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    original_filename: Mapped[str | None] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    document_type: Mapped[str] = mapped_column(String(40), default="scan")
    description: Mapped[str | None] = mapped_column(Text)
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    dicom_modality: Mapped[str | None] = mapped_column(String(16))
    dicom_study_date: Mapped[date | None] = mapped_column(Date)
    dicom_body_part: Mapped[str | None] = mapped_column(String(64))
    dicom_study_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    dicom_series_uid: Mapped[str | None] = mapped_column(String(64))
    dicom_sop_instance_uid: Mapped[str | None] = mapped_column(String(64))
    # Set when the file was deleted by a patient's erasure (hms.privacy): the row stays as
    # the record that a document existed; its filename, description and DICOM UIDs are gone.
    file_erased_at: Mapped[datetime | None] = mapped_column()
