"""HTTP routes of the documents module."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse

from hms.config import Settings
from hms.core.auth import DbSession, Principal, require
from hms.core.pagination import Page, Pagination
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES
from hms.documents import service
from hms.documents.schemas import MAX_DESCRIPTION_CHARS, DocumentRead, DocumentType
from hms.documents.storage import DocumentStore, content_disposition

router = APIRouter(tags=["documents"])

ReadDocuments = Annotated[Principal, Depends(require(Perm.DOCUMENT_READ))]
WriteDocuments = Annotated[Principal, Depends(require(Perm.DOCUMENT_WRITE))]


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(_settings)]

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "PDF, JPEG, PNG, TIFF or DICOM (decided from the "
                                           "bytes); at most HMS_UPLOAD_MAX_BYTES",
                        },
                        "document_type": {
                            "type": "string",
                            "enum": [t.value for t in DocumentType],
                            "description": "Defaults from the content; DICOM files are "
                                           "always 'dicom'",
                        },
                        "description": {"type": "string", "maxLength": MAX_DESCRIPTION_CHARS},
                    },
                },
                "encoding": {"file": {"contentType": "application/octet-stream"}},
            }
        },
    }
}


@router.post(
    "/api/v1/visits/{visit_id}/documents",
    summary="Upload a document to a visit (multipart, streamed; type decided by content)",
    status_code=201,
    response_model=DocumentRead,
    openapi_extra=_UPLOAD_BODY,
    responses=PROBLEM_RESPONSES,
)
async def upload_document(
    visit_id: uuid.UUID,
    request: Request,
    response: Response,
    actor: WriteDocuments,
    session: DbSession,
    settings: AppSettings,
) -> DocumentRead:
    # The body is read here, from the raw stream, never through FastAPI's form parsing:
    # the file goes to disk chunk by chunk and is cut off at the size limit.
    document = await service.upload_document(
        session, actor, visit_id,
        headers=request.headers, body=request.stream(),
        store=DocumentStore(settings.documents_dir), max_bytes=settings.upload_max_bytes,
    )
    response.headers["Location"] = f"/api/v1/documents/{document.id}"
    return document


@router.get(
    "/api/v1/visits/{visit_id}/documents",
    summary="List a visit's documents, newest first",
    response_model=Page[DocumentRead],
    responses=PROBLEM_RESPONSES,
)
async def list_visit_documents(
    visit_id: uuid.UUID,
    actor: ReadDocuments,
    session: DbSession,
    page: Pagination,
    document_type: Annotated[DocumentType | None, Query(description="Filter by type")] = None,
) -> Page[DocumentRead]:
    return await service.list_visit_documents(
        session, visit_id, page, document_type=document_type, actor=actor
    )


@router.get(
    "/api/v1/documents/{document_id}",
    summary="A document's metadata",
    response_model=DocumentRead,
    responses=PROBLEM_RESPONSES,
)
async def get_document(
    document_id: uuid.UUID, actor: ReadDocuments, session: DbSession
) -> DocumentRead:
    return await service.get_document(session, document_id, actor=actor)


@router.get(
    "/api/v1/documents/{document_id}/download",
    summary="Download a document's file (attachment, integrity-checked)",
    response_class=FileResponse,
    responses={
        **PROBLEM_RESPONSES,
        410: {**PROBLEM_RESPONSES[404], "description": "The file was erased with its patient"},
        200: {
            "description": "The stored bytes; ETag and Repr-Digest carry the SHA-256",
            "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/tiff": {"schema": {"type": "string", "format": "binary"}},
                "application/dicom": {"schema": {"type": "string", "format": "binary"}},
            },
        },
    },
)
async def download_document(
    document_id: uuid.UUID, actor: ReadDocuments, session: DbSession, settings: AppSettings
) -> FileResponse:
    target = await service.open_download(
        session, document_id, DocumentStore(settings.documents_dir), actor=actor
    )
    return FileResponse(
        target.path,
        media_type=target.media_type,
        headers={
            "Content-Disposition": content_disposition(target.filename),
            "ETag": f'"{target.sha256}"',
            "Repr-Digest": target.repr_digest,
            "X-Content-Type-Options": "nosniff",
        },
    )
