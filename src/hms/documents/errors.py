"""Domain errors of the documents module (rendered as RFC 9457 problem+json)."""

from __future__ import annotations

from hms.core.errors import (
    BadRequest,
    Conflict,
    HmsError,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)


class DocumentNotFound(NotFound):
    """404: no document has that id."""

    code = "document_not_found"


class DocumentTooLarge(PayloadTooLarge):
    """413: the uploaded file (or the request body) exceeds ``upload_max_bytes``."""

    code = "document_too_large"


class UnsupportedDocumentType(UnsupportedMediaType):
    """415: the file's bytes are not PDF, JPEG, PNG, TIFF or DICOM (or the request is not
    ``multipart/form-data``)."""

    code = "unsupported_document_type"


class InvalidMultipart(BadRequest):
    """400: the multipart body cannot be parsed (bad boundary, truncated body...)."""

    code = "invalid_multipart"


class InvalidUpload(ValidationFailed):
    """422: a form field of the upload is missing or invalid; ``errors`` names each field."""

    code = "validation_error"


class VisitCancelled(Conflict):
    """409: the visit was cancelled; documents cannot be filed on it."""

    code = "visit_cancelled"


class StoredDocumentUnavailable(HmsError):
    """500: the stored file is missing or its SHA-256 no longer matches the recorded one.

    A server-side integrity failure, never the client's fault; it is logged with the document
    id only.
    """

    status_code, code, title = 500, "document_integrity_error", "Stored document unavailable"


class DocumentFileErased(HmsError):
    """410: the document's file was deleted when its patient's data was erased (the
    metadata row remains as the record that it existed)."""

    status_code, code, title = 410, "document_erased", "Document erased"
