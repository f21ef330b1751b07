"""Pydantic schemas of the documents module (the module's public data shapes)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_DESCRIPTION_CHARS = 2000


class DocumentType(StrEnum):
    """What a document is, for people browsing a visit. ``dicom`` is set by the server for
    every DICOM file and may not be claimed for anything else."""

    SCAN = "scan"
    REPORT = "report"
    IMAGE = "image"
    DICOM = "dicom"
    CONSENT = "consent"
    OTHER = "other"


class DicomStudyRead(BaseModel):
    """Study metadata read from a DICOM file's header (patient attributes are never read)."""

    model_config = ConfigDict(from_attributes=True)

    modality: str | None = Field(None, description="DICOM Modality (0008,0060), e.g. CT, MR")
    study_date: date | None = Field(None, description="StudyDate (0008,0020)")
    body_part: str | None = Field(None, description="BodyPartExamined (0018,0015)")
    study_uid: str | None = Field(None, description="StudyInstanceUID (0020,000D)")
    series_uid: str | None = Field(None, description="SeriesInstanceUID (0020,000E)")
    sop_instance_uid: str | None = Field(None, description="SOPInstanceUID (0008,0018)")


class DocumentRead(BaseModel):
    """A stored document's metadata. The file itself is at ``download_url``."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    visit_id: uuid.UUID
    patient_id: uuid.UUID
    original_filename: str | None = Field(
        None, description="The client's filename, sanitised; display only"
    )
    content_type: str = Field(description="Detected from the bytes, e.g. application/pdf")
    size_bytes: int = Field(ge=0)
    sha256: str = Field(description="Hex SHA-256 of the stored bytes")
    document_type: DocumentType
    description: str | None = None
    uploaded_by: uuid.UUID | None
    uploaded_at: datetime
    dicom: DicomStudyRead | None = Field(None, description="Set for DICOM files only")
    download_url: str
    file_erased_at: datetime | None = Field(
        None, description="When the file was deleted by the patient's erasure (download: 410)")

    @classmethod
    def from_row(cls, row: Any) -> DocumentRead:
        """Build from a ``VisitDocument`` row (duck-typed: the ORM class is module-private)."""
        dicom = None
        if row.document_type == DocumentType.DICOM or row.dicom_study_uid or row.dicom_modality:
            dicom = DicomStudyRead(
                modality=row.dicom_modality,
                study_date=row.dicom_study_date,
                body_part=row.dicom_body_part,
                study_uid=row.dicom_study_uid,
                series_uid=row.dicom_series_uid,
                sop_instance_uid=row.dicom_sop_instance_uid,
            )
        return cls(
            id=row.id,
            visit_id=row.visit_id,
            patient_id=row.patient_id,
            original_filename=row.original_filename,
            content_type=row.content_type,
            size_bytes=row.size_bytes,
            sha256=row.sha256,
            document_type=DocumentType(row.document_type),
            description=row.description,
            uploaded_by=row.uploaded_by,
            uploaded_at=row.uploaded_at,
            dicom=dicom,
            download_url=f"/api/v1/documents/{row.id}/download",
            file_erased_at=getattr(row, "file_erased_at", None),
        )


class DocumentStatistics(BaseModel):
    """Documents uploaded in a period: counts per type and the bytes they occupy."""

    total_documents: int
    total_bytes: int
    by_type: dict[str, int]
    by_content_type: dict[str, int]
