"""Document use cases: upload (streamed, typed by content), list, metadata, download.

Other modules call :func:`summaries_for_visits` (patient history) and :func:`statistics`
(reports).
"""

from __future__ import annotations

import base64
import unicodedata
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.core.auth import Principal
from hms.core.pagination import Page, PageParams
from hms.db.base import utcnow
from hms.documents import dicom, sniff
from hms.documents.errors import (
    DocumentFileErased,
    DocumentNotFound,
    InvalidUpload,
    StoredDocumentUnavailable,
    VisitCancelled,
)
from hms.documents.models import VisitDocument
from hms.documents.repository import DocumentRepository
from hms.documents.schemas import (
    MAX_DESCRIPTION_CHARS,
    DocumentRead,
    DocumentStatistics,
    DocumentType,
)
from hms.documents.storage import DocumentStore, sanitize_filename, sha256_of
from hms.documents.upload import ReceivedUpload, receive_multipart
from hms.visits import service as visits_service

log = structlog.get_logger("hms.documents")

ENTITY = "visit_document"
_PLACED_KEY = "hms.documents.placed_files"

_DEFAULT_TYPE: dict[str, DocumentType] = {
    "pdf": DocumentType.SCAN,
    "tiff": DocumentType.SCAN,
    "jpeg": DocumentType.IMAGE,
    "png": DocumentType.IMAGE,
    "dicom": DocumentType.DICOM,
}
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/png": (".png",),
    "image/tiff": (".tif", ".tiff"),
    "application/dicom": (".dcm", ".dicom"),
}


@dataclass(frozen=True, slots=True)
class DownloadTarget:
    """What the router needs to stream a stored document."""

    path: Path
    media_type: str
    filename: str
    sha256: str
    size_bytes: int

    @property
    def repr_digest(self) -> str:
        """RFC 9530 ``Repr-Digest`` value: ``sha-256=:<base64>:``."""
        return f"sha-256=:{base64.b64encode(bytes.fromhex(self.sha256)).decode()}:"


# -- files placed during a transaction are removed again if it rolls back ----------------


def _on_commit(sync_session: Session) -> None:
    if not sync_session.in_nested_transaction():  # a released SAVEPOINT is not the commit
        sync_session.info.pop(_PLACED_KEY, None)


def _on_rollback(sync_session: Session) -> None:
    if sync_session.in_nested_transaction():  # a SAVEPOINT rollback keeps our work
        return
    for path in sync_session.info.pop(_PLACED_KEY, []):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.error("document_cleanup_failed", stored_name=path.name)


def _delete_on_rollback(session: AsyncSession, path: Path) -> None:
    """Remove ``path`` if the session's transaction rolls back (a failed commit included),
    so a document file never outlives the row that would have pointed at it."""
    sync_session = session.sync_session
    if not sync_session.info.get(f"{_PLACED_KEY}.hooked"):
        event.listen(sync_session, "after_commit", _on_commit)
        event.listen(sync_session, "after_rollback", _on_rollback)
        sync_session.info[f"{_PLACED_KEY}.hooked"] = True
    sync_session.info.setdefault(_PLACED_KEY, []).append(path)


# -- upload ---------------------------------------------------------------------------------


def _clean_description(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = "".join(
        ch for ch in raw
        if ch in "\n\r\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    ).strip()
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise InvalidUpload(
            "The description is too long",
            errors=[{"field": "description", "in": "body",
                     "message": f"at most {MAX_DESCRIPTION_CHARS} characters"}],
        )
    return text or None


def _claimed_type(raw: str | None) -> DocumentType | None:
    if raw is None or not raw.strip():
        return None
    try:
        return DocumentType(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(t.value for t in DocumentType)
        raise InvalidUpload(
            "Unknown document_type",
            errors=[{"field": "document_type", "in": "body",
                     "message": f"must be one of: {allowed}"}],
        ) from None


def _inspect(path: Path) -> tuple[sniff.DetectedType, dicom.DicomStudy | None]:
    detected = sniff.detect(path)
    study = dicom.read_study(path) if detected is sniff.DICOM else None
    return detected, study


async def _store(
    session: AsyncSession,
    actor: Principal,
    visit_id: uuid.UUID,
    patient_id: uuid.UUID,
    upload: ReceivedUpload,
    store: DocumentStore,
) -> DocumentRead:
    claimed = _claimed_type(upload.fields.get("document_type"))
    description = _clean_description(upload.fields.get("description"))
    detected, study = await anyio.to_thread.run_sync(_inspect, upload.temp_path)
    if detected is sniff.DICOM:
        document_type = DocumentType.DICOM
    elif claimed is DocumentType.DICOM:
        raise InvalidUpload(
            "Only DICOM files can have document_type 'dicom'",
            errors=[{"field": "document_type", "in": "body",
                     "message": f"the file is {detected.mime}, not DICOM"}],
        )
    else:
        document_type = claimed or _DEFAULT_TYPE[detected.kind]

    stored_name = await anyio.to_thread.run_sync(
        store.place, upload.temp_path, detected.extension
    )
    _delete_on_rollback(session, store.path_for(stored_name))
    row = await DocumentRepository(session).add(
        VisitDocument(
            visit_id=visit_id,
            patient_id=patient_id,
            original_filename=sanitize_filename(upload.filename),
            stored_name=stored_name,
            content_type=detected.mime,
            size_bytes=upload.size_bytes,
            sha256=upload.sha256,
            document_type=document_type.value,
            description=description,
            uploaded_by=actor.user_id,
            dicom_modality=study.modality if study else None,
            dicom_study_date=study.study_date if study else None,
            dicom_body_part=study.body_part if study else None,
            dicom_study_uid=study.study_uid if study else None,
            dicom_series_uid=study.series_uid if study else None,
            dicom_sop_instance_uid=study.sop_instance_uid if study else None,
        )
    )
    document = DocumentRead.from_row(row)
    await audit.record(
        session, AuditAction.CREATE, ENTITY, row.id, patient_id=patient_id,
        changes={"after": document.model_dump(exclude={"download_url"})},
    )
    log.info("document_stored", document_id=str(row.id), content_type=detected.mime,
             size_bytes=upload.size_bytes)
    return document


async def upload_document(
    session: AsyncSession,
    actor: Principal,
    visit_id: uuid.UUID,
    *,
    headers: Mapping[str, str],
    body: AsyncIterator[bytes],
    store: DocumentStore,
    max_bytes: int,
) -> DocumentRead:
    """File a document on a visit from a streamed ``multipart/form-data`` body.

    The form has a ``file`` part and optional ``document_type`` (scan, report, image,
    dicom, consent, other) and ``description`` fields. The file is streamed to a temp file
    (SHA-256 and size computed on the way), typed from its bytes (PDF, JPEG, PNG, TIFF,
    DICOM; the filename and claimed Content-Type are ignored), then moved to
    ``<documents_dir>/<shard>/<uuid4 hex>.<ext>``. DICOM files get their study metadata read
    and ``document_type`` ``dicom``; when no type is given, PDF and TIFF default to ``scan``,
    JPEG and PNG to ``image``. The client's filename is sanitised and kept for display only.
    Nothing is kept when the upload is refused: the temp file is deleted and no row is
    written; if the transaction later rolls back, the placed file is deleted too.

    Closed visits accept documents: closing a visit locks its forms, but results such as
    scans and reports often arrive after the patient has left and must still be archivable
    on the visit they belong to. Cancelled visits do not (the visit never took place).

    Args:
        actor: the uploader (``document:write``).
        visit_id: the visit the document belongs to; its patient becomes the document's.
        headers: request headers (``content-type`` with the boundary, ``content-length``).
        body: the raw request body stream.
        store: the document folder (``settings.documents_dir``).
        max_bytes: size limit of the file in bytes (``settings.upload_max_bytes``).

    Returns:
        The stored document's metadata.

    Raises:
        NotFound (404): no such visit, or outside the actor's ``visit:read`` scope.
        VisitCancelled (409): the visit was cancelled.
        DocumentTooLarge (413): the file is larger than ``max_bytes``.
        UnsupportedDocumentType (415): not multipart, or the bytes are not an accepted type.
        InvalidMultipart (400): malformed multipart body.
        InvalidUpload (422): no file, empty file, unknown ``document_type``, ``dicom``
            claimed for a non-DICOM file, description over 2000 characters.
    """
    visit = await visits_service.get_visit(session, visit_id, actor=actor)
    if visit.status == "cancelled":
        raise VisitCancelled("The visit was cancelled; documents cannot be filed on it")
    upload = await receive_multipart(headers, body, store, max_file_bytes=max_bytes)
    try:
        return await _store(session, actor, visit.id, visit.patient_id, upload, store)
    finally:
        # Placed files were renamed away already; anything left here was refused.
        await anyio.to_thread.run_sync(store.discard, upload.temp_path)


# -- reads ----------------------------------------------------------------------------------


async def _get_row(session: AsyncSession, actor: Principal | None,
                   document_id: uuid.UUID) -> VisitDocument:
    # A document is within reach when its visit is (visit:read scope), decided in the query.
    within = visits_service.visit_filter(actor) if actor is not None else None
    row = await DocumentRepository(session).get(document_id, within=within)
    if row is None:
        raise DocumentNotFound("Document not found")
    return row


async def get_document(session: AsyncSession, document_id: uuid.UUID, *,
                       actor: Principal | None = None) -> DocumentRead:
    """A document's metadata; records a READ audit event.

    Args:
        actor: when given, the document's visit must be within the actor's ``visit:read``
            scope.

    Raises:
        DocumentNotFound (404): no such document, or outside the actor's scope.
    """
    row = await _get_row(session, actor, document_id)
    await audit.record(session, AuditAction.READ, ENTITY, row.id, patient_id=row.patient_id)
    return DocumentRead.from_row(row)


async def list_visit_documents(
    session: AsyncSession,
    visit_id: uuid.UUID,
    page: PageParams,
    *,
    document_type: DocumentType | None = None,
    actor: Principal | None = None,
) -> Page[DocumentRead]:
    """One page of a visit's documents, newest first; one READ audit event per document.

    Args:
        visit_id: the visit.
        page: page window.
        document_type: optional filter.
        actor: when given, the visit must be within the actor's ``visit:read`` scope.

    Raises:
        NotFound (404): no such visit, or outside the actor's scope.
    """
    visit = await visits_service.get_visit(session, visit_id, actor=actor)
    rows, total = await DocumentRepository(session).list_for_visit(
        visit.id, offset=page.offset, limit=page.page_size,
        document_type=document_type.value if document_type else None,
    )
    await audit.record_reads(session, ENTITY, [(r.id, r.patient_id) for r in rows])
    return Page[DocumentRead](
        items=[DocumentRead.from_row(r) for r in rows],
        total=total, page=page.page, page_size=page.page_size,
    )


def _download_name(row: VisitDocument) -> str:
    """The display name, with the detected type's extension added when the client's name
    says something else (``scan.html`` holding a PNG is saved as ``scan.html.png``)."""
    suffixes = _SUFFIXES.get(row.content_type, ())
    name = row.original_filename or f"document-{row.id}"
    if suffixes and not name.lower().endswith(suffixes):
        name = f"{name}{suffixes[0]}"
    return name


async def open_download(
    session: AsyncSession, document_id: uuid.UUID, store: DocumentStore, *,
    actor: Principal | None = None,
) -> DownloadTarget:
    """Check a stored document's file and record the DOWNLOAD audit event.

    The file's SHA-256 is recomputed and compared with the recorded one (about 50 ms for
    20 MiB) so a corrupted or swapped file is never served as the patient's record.

    Args:
        document_id: the document.
        store: the document folder.
        actor: when given, the document's visit must be within the actor's ``visit:read``
            scope.

    Returns:
        Path, detected media type, download filename, SHA-256 and size.

    Raises:
        DocumentNotFound (404): no such document, or outside the actor's scope.
        DocumentFileErased (410): the file was deleted by the patient's erasure.
        StoredDocumentUnavailable (500): the file is missing or its hash no longer matches
            (logged with the document id only).
    """
    row = await _get_row(session, actor, document_id)
    if row.file_erased_at is not None:
        raise DocumentFileErased("This document's file was erased with its patient's data")
    path = store.path_for(row.stored_name)
    try:
        digest, size = await anyio.to_thread.run_sync(sha256_of, path)
    except OSError:
        log.error("document_file_missing", document_id=str(row.id))
        raise StoredDocumentUnavailable("The stored file of this document is missing") from None
    if digest != row.sha256 or size != row.size_bytes:
        log.error("document_integrity_mismatch", document_id=str(row.id))
        raise StoredDocumentUnavailable(
            "The stored file of this document failed its integrity check"
        )
    await audit.record(session, AuditAction.DOWNLOAD, ENTITY, row.id, patient_id=row.patient_id)
    return DownloadTarget(path=path, media_type=row.content_type,
                          filename=_download_name(row), sha256=row.sha256,
                          size_bytes=row.size_bytes)


# -- for other modules ----------------------------------------------------------------------


_ERASED_KEY = "hms.documents.erased_files"


def _unlink_erased(sync_session: Session) -> None:
    if sync_session.in_nested_transaction():  # a released SAVEPOINT is not the commit
        return
    for path in sync_session.info.pop(_ERASED_KEY, []):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.error("document_erase_failed", stored_name=path.name)


def _forget_erased(sync_session: Session) -> None:
    if not sync_session.in_nested_transaction():
        sync_session.info.pop(_ERASED_KEY, None)


def _delete_after_commit(session: AsyncSession, paths: list[Path]) -> None:
    """Unlink ``paths`` once the session's transaction commits (never if it rolls back: the
    rows would still point at the files)."""
    sync_session = session.sync_session
    if not sync_session.info.get(f"{_ERASED_KEY}.hooked"):
        event.listen(sync_session, "after_commit", _unlink_erased)
        event.listen(sync_session, "after_rollback", _forget_erased)
        sync_session.info[f"{_ERASED_KEY}.hooked"] = True
    sync_session.info.setdefault(_ERASED_KEY, []).extend(paths)


async def delete_files_for_patient(
    session: AsyncSession, patient_id: uuid.UUID, documents_dir: Path
) -> int:
    """Erase a patient's stored document files (the patient's erasure, hms.privacy).

    Each document row stays (the clinical record that a document existed: type, size,
    SHA-256, upload time, DICOM modality and study date) with ``file_erased_at`` set, and
    its client filename, description and DICOM UIDs cleared. The files are unlinked after
    the transaction commits, so a rolled-back erasure loses nothing. Downloads then answer
    410. Not audited: the caller records the erasure.

    Args:
        patient_id: the patient.
        documents_dir: ``settings.documents_dir``.

    Returns:
        How many documents had their file erased (already erased ones are not counted).
    """
    store = DocumentStore(documents_dir)
    rows = await DocumentRepository(session).for_patient(patient_id)
    now = utcnow()
    paths: list[Path] = []
    for row in rows:
        if row.file_erased_at is not None:
            continue
        paths.append(store.path_for(row.stored_name))
        row.file_erased_at = now
        row.original_filename = None
        row.description = None
        row.dicom_study_uid = row.dicom_series_uid = row.dicom_sop_instance_uid = None
    await session.flush()
    _delete_after_commit(session, paths)
    return len(paths)


async def summaries_for_visits(
    session: AsyncSession, visit_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[DocumentRead]]:
    """Documents of several visits in one query (for the patient history).

    Writes no audit rows: the caller audits the read it serves.

    Args:
        visit_ids: visits to look up.

    Returns:
        ``{visit_id: [DocumentRead, ...]}`` with a (possibly empty) list for every
        requested visit, newest first.
    """
    result: dict[uuid.UUID, list[DocumentRead]] = {vid: [] for vid in visit_ids}
    for row in await DocumentRepository(session).for_visits(visit_ids):
        result.setdefault(row.visit_id, []).append(DocumentRead.from_row(row))
    return result


async def documents_of_patient(
    session: AsyncSession, patient_id: uuid.UUID
) -> list[DocumentRead]:
    """Every document of a patient (metadata), oldest first, for the patient's data export.
    Writes no audit rows: the caller audits the export."""
    return [DocumentRead.from_row(r)
            for r in await DocumentRepository(session).for_patient(patient_id)]


async def statistics(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    """Documents uploaded in ``[start, end)`` (UTC; either bound may be None).

    Returns:
        ``{"total_documents": int, "total_bytes": int, "by_type": {type: count},
        "by_content_type": {mime: count}}`` (aggregates only, no patient data).
    """
    by_type: dict[str, int] = {}
    by_content: dict[str, int] = {}
    total = total_bytes = 0
    for doc_type, content_type, count, size in await DocumentRepository(session).statistics(
        start, end
    ):
        by_type[doc_type] = by_type.get(doc_type, 0) + count
        by_content[content_type] = by_content.get(content_type, 0) + count
        total += count
        total_bytes += size
    return DocumentStatistics(
        total_documents=total, total_bytes=total_bytes,
        by_type=by_type, by_content_type=by_content,
    ).model_dump()
