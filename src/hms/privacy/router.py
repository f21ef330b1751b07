"""HTTP routes of patient rights: export, legal hold, erasure requests."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from hms.config import Settings
from hms.core.auth import DbSession, Principal, require
from hms.core.pagination import Pagination
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES
from hms.privacy import service
from hms.privacy.schemas import (
    ErasureOutcome,
    ErasureRequestCreate,
    ErasureRequestPage,
    ErasureRequestRead,
    ExportFormat,
    LegalHoldRead,
    LegalHoldUpdate,
    PatientExport,
)

router = APIRouter(prefix="/api/v1", tags=["patient rights"])

ExportPatients = Annotated[Principal, Depends(require(Perm.PATIENT_EXPORT))]
ErasePatients = Annotated[Principal, Depends(require(Perm.PATIENT_ERASE))]
HoldPatients = Annotated[Principal, Depends(require(Perm.PATIENT_LEGAL_HOLD))]
PatientRef = Annotated[str, Path(max_length=64, description="National ID, patient number or "
                                                            "UUID")]

FHIR_JSON = "application/fhir+json"


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(_settings)]


@router.get(
    "/patients/{patient_ssn}/export",
    summary="All of a patient's data: hms JSON or a FHIR R4 Bundle (right of access)",
    response_model=PatientExport,
    responses={
        **PROBLEM_RESPONSES,
        200: {
            "description": "`format=json`: the export document; `format=fhir`: a FHIR R4 "
                           "Bundle (type collection) as application/fhir+json",
            "content": {FHIR_JSON: {"schema": {"type": "object"}}},
        },
    },
)
async def export_patient(
    patient_ssn: PatientRef,
    actor: ExportPatients,
    session: DbSession,
    format: Annotated[ExportFormat, Query(description="json or fhir")] = ExportFormat.JSON,
) -> Any:
    result = await service.export_patient(session, actor, patient_ssn, format)
    headers = {"Content-Disposition": f'attachment; filename="patient-export.{format.value}'
                                      f'.json"', "Cache-Control": "no-store"}
    if isinstance(result, PatientExport):
        return JSONResponse(result.model_dump(mode="json"), headers=headers)
    return JSONResponse(result, media_type=FHIR_JSON, headers=headers)


@router.get("/patients/{patient_ssn}/legal-hold", summary="A patient's legal hold state",
            response_model=LegalHoldRead, responses=PROBLEM_RESPONSES)
async def get_legal_hold(patient_ssn: PatientRef, actor: HoldPatients,
                         session: DbSession) -> LegalHoldRead:
    return await service.get_legal_hold(session, patient_ssn)


@router.put("/patients/{patient_ssn}/legal-hold",
            summary="Place or lift a legal hold (blocks erasure while active)",
            response_model=LegalHoldRead, responses=PROBLEM_RESPONSES)
async def set_legal_hold(patient_ssn: PatientRef, data: LegalHoldUpdate,
                         actor: HoldPatients, session: DbSession) -> LegalHoldRead:
    return await service.set_legal_hold(session, actor, patient_ssn, data)


@router.post(
    "/patients/{patient_ssn}/erasure-requests",
    summary="Request erasure of a patient's identifying data (decided at once: retention, "
            "legal hold)",
    response_model=ErasureRequestRead, status_code=201, responses=PROBLEM_RESPONSES)
async def request_erasure(patient_ssn: PatientRef, data: ErasureRequestCreate,
                          actor: ErasePatients, session: DbSession,
                          settings: AppSettings) -> ErasureRequestRead:
    return await service.request_erasure(
        session, actor, patient_ssn, data, retention_years=settings.record_retention_years,
        documents_dir=settings.documents_dir)


@router.get("/erasure-requests", summary="Erasure requests, newest first",
            response_model=ErasureRequestPage, responses=PROBLEM_RESPONSES)
async def list_erasure_requests(
    actor: ErasePatients,
    session: DbSession,
    page: Pagination,
    patient: Annotated[str | None, Query(max_length=64, description="Patient reference")] = None,
    outcome: Annotated[ErasureOutcome | None, Query()] = None,
) -> ErasureRequestPage:
    return await service.list_erasure_requests(session, page, patient_ref=patient,
                                               outcome=outcome)


@router.get("/erasure-requests/{request_id}", summary="One erasure request",
            response_model=ErasureRequestRead, responses=PROBLEM_RESPONSES)
async def get_erasure_request(request_id: uuid.UUID, actor: ErasePatients,
                              session: DbSession) -> ErasureRequestRead:
    return await service.get_erasure_request(session, request_id)
