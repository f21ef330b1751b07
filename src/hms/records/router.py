"""HTTP routes of the assembled patient views (history, details) and of the seed 004
medical records (``/medical-records``; the table belongs to ``hms.patients``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from hms.core.auth import DbSession, Principal, require
from hms.core.etag import etag, parse_if_match
from hms.core.pagination import Page, Pagination
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES
from hms.patients import service as patients_service
from hms.patients.schemas import MedicalRecordCreate, MedicalRecordRead, MedicalRecordUpdate
from hms.records import service
from hms.records.schemas import PatientDetails, PatientHistory

router = APIRouter(prefix="/api/v1")

ReadRecords = Annotated[Principal, Depends(require(Perm.VISIT_READ))]
ReadMedicalRecords = Annotated[Principal, Depends(require(Perm.MEDICAL_RECORD_READ))]
WriteMedicalRecords = Annotated[Principal, Depends(require(Perm.MEDICAL_RECORD_WRITE))]

PatientRef = Annotated[str, Path(max_length=64,
                                 description="National ID, patient number or UUID")]
_ETAG_HEADER = {"ETag": {"description": 'Row version as a weak ETag, e.g. W/"3"',
                         "schema": {"type": "string"}}}


@router.get("/patients/{patient_ssn}/history", tags=["patients"],
            summary="A patient's visits with forms, diagnoses and documents, newest first",
            response_model=PatientHistory, responses=PROBLEM_RESPONSES)
async def patient_history(
    patient_ssn: PatientRef,
    actor: ReadRecords,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=200, description="Newest visits to include")] = 50,
) -> PatientHistory:
    return await service.patient_history(session, actor, patient_ssn, limit=limit)


@router.get("/patients/{patient_ssn}/details", tags=["patients"],
            summary="A patient with insurance provider, medical record and appointments",
            response_model=PatientDetails, responses=PROBLEM_RESPONSES)
async def patient_details(
    patient_ssn: PatientRef,
    actor: ReadMedicalRecords,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=200,
                                description="Newest appointments to include")] = 50,
) -> PatientDetails:
    return await service.patient_details(session, actor, patient_ssn,
                                         appointments_limit=limit)


@router.post("/medical-records", tags=["medical-records"], status_code=201,
             summary="Create the medical record of a patient who has none",
             response_model=MedicalRecordRead,
             responses={**PROBLEM_RESPONSES, 201: {"description": "Created",
                                                   "headers": _ETAG_HEADER}})
async def create_medical_record(body: MedicalRecordCreate, actor: WriteMedicalRecords,
                                session: DbSession, response: Response) -> MedicalRecordRead:
    record = await patients_service.create_medical_record(
        session, body, created_by=actor.user_id, within=service.patient_scope(actor))
    response.headers["Location"] = f"{router.prefix}/medical-records/{record.id}"
    response.headers["ETag"] = etag(record.version)
    return record


@router.get("/medical-records", tags=["medical-records"],
            summary="List medical records (filter by patient)",
            response_model=Page[MedicalRecordRead], responses=PROBLEM_RESPONSES)
async def list_medical_records(
    actor: ReadMedicalRecords,
    session: DbSession,
    page: Pagination,
    patient_id: Annotated[uuid.UUID | None, Query()] = None,
    sort: Annotated[str | None, Query(max_length=100, pattern=r"^-?[a-z_]+(,-?[a-z_]+)*$",
                                      description="Keys: created_at, updated_at; `-` for "
                                      "descending (default `-updated_at`)")] = None,
) -> Page[MedicalRecordRead]:
    return await patients_service.list_medical_records(
        session, page, patient_id=patient_id, sort=sort, within=service.patient_scope(actor))


@router.get("/medical-records/{id}", tags=["medical-records"],
            summary="Read a medical record", response_model=MedicalRecordRead,
            responses={**PROBLEM_RESPONSES, 200: {"description": "The record",
                                                  "headers": _ETAG_HEADER}})
async def get_medical_record(id: uuid.UUID, actor: ReadMedicalRecords, session: DbSession,
                             response: Response) -> MedicalRecordRead:
    record = await patients_service.read_medical_record(session, id,
                                                        within=service.patient_scope(actor))
    response.headers["ETag"] = etag(record.version)
    return record


@router.put("/medical-records/{id}", tags=["medical-records"],
            summary="Update a medical record; send If-Match or version",
            response_model=MedicalRecordRead,
            responses={**PROBLEM_RESPONSES, 200: {"description": "Updated",
                                                  "headers": _ETAG_HEADER}})
async def update_medical_record(
    id: uuid.UUID,
    body: MedicalRecordUpdate,
    actor: WriteMedicalRecords,
    session: DbSession,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=40, description=(
        'ETag read from GET, e.g. W/"3" (or send version in the body)'))] = None,
) -> MedicalRecordRead:
    record = await patients_service.update_medical_record(
        session, id, body, if_match=parse_if_match(if_match), updated_by=actor.user_id,
        within=service.patient_scope(actor))
    response.headers["ETag"] = etag(record.version)
    return record


@router.delete("/medical-records/{id}", tags=["medical-records"], status_code=204,
               summary="Refused: medical records are never deleted (409)",
               response_model=None, responses=PROBLEM_RESPONSES)
async def delete_medical_record(id: uuid.UUID, actor: WriteMedicalRecords,
                                session: DbSession) -> None:
    await patients_service.delete_medical_record(session, id,
                                                 within=service.patient_scope(actor))
