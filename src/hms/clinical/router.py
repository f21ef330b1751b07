"""HTTP routes of the clinical module: seed 004 ``/vital-signs``, ``/consultations``,
``/prescriptions`` (and a patient's current medications)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from hms.clinical import service
from hms.clinical.schemas import (
    ConsultationComplete,
    ConsultationCompleted,
    ConsultationCreate,
    ConsultationDetails,
    ConsultationRead,
    ConsultationStatus,
    ConsultationUpdate,
    PrescriptionCreate,
    PrescriptionRead,
    PrescriptionUpdate,
    VitalSignsCreate,
    VitalSignsRead,
    VitalSignsUpdate,
)
from hms.core.auth import DbSession, Principal, require
from hms.core.etag import etag, parse_if_match
from hms.core.pagination import Page, Pagination
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["clinical"])

ReadVitals = Annotated[Principal, Depends(require(Perm.VITAL_SIGN_READ))]
WriteVitals = Annotated[Principal, Depends(require(Perm.VITAL_SIGN_WRITE))]
ReadConsultations = Annotated[Principal, Depends(require(Perm.CONSULTATION_READ))]
WriteConsultations = Annotated[Principal, Depends(require(Perm.CONSULTATION_WRITE))]
ReadPrescriptions = Annotated[Principal, Depends(require(Perm.PRESCRIPTION_READ))]
WritePrescriptions = Annotated[Principal, Depends(require(Perm.PRESCRIPTION_WRITE))]

SORT = r"^-?[a-z_]+(,-?[a-z_]+)*$"

# --- vital signs -------------------------------------------------------------------------


@router.post("/vital-signs", summary="Record vital signs (seed 004 ranges)",
             response_model=VitalSignsRead, status_code=201, responses=PROBLEM_RESPONSES)
async def create_vital_signs(body: VitalSignsCreate, actor: WriteVitals, session: DbSession,
                             response: Response) -> VitalSignsRead:
    out = await service.create_vital_signs(session, actor, body)
    response.headers["Location"] = f"/api/v1/vital-signs/{out.id}"
    return out


@router.get("/vital-signs", summary="List vital signs", response_model=Page[VitalSignsRead],
            responses=PROBLEM_RESPONSES)
async def list_vital_signs(
    actor: ReadVitals, session: DbSession, page: Pagination,
    patient_id: uuid.UUID | None = None, visit_id: uuid.UUID | None = None,
    appointment_id: uuid.UUID | None = None,
    recorded_by: Annotated[uuid.UUID | None, Query(
        alias="recorded_by", description="Recorder's user id")] = None,
    date_from: Annotated[date | None, Query(description="Recorded on or after (UTC)")] = None,
    date_to: Annotated[date | None, Query(description="Recorded on or before (UTC)")] = None,
    sort: Annotated[str | None, Query(max_length=100, pattern=SORT,
                                      description="recorded_at, created_at; -desc")] = None,
) -> Page[VitalSignsRead]:
    return await service.list_vital_signs(
        session, actor, page, patient_id=patient_id, visit_id=visit_id,
        appointment_id=appointment_id, recorded_by=recorded_by, date_from=date_from,
        date_to=date_to, sort=sort)


@router.get("/vital-signs/{id}", summary="Read a set of vital signs",
            response_model=VitalSignsRead, responses=PROBLEM_RESPONSES)
async def get_vital_signs(id: uuid.UUID, actor: ReadVitals, session: DbSession
                          ) -> VitalSignsRead:
    return await service.read_vital_signs(session, actor, id)


@router.put("/vital-signs/{id}", summary="Correct a set of vital signs (fields optional)",
            response_model=VitalSignsRead, responses=PROBLEM_RESPONSES)
async def update_vital_signs(id: uuid.UUID, body: VitalSignsUpdate, actor: WriteVitals,
                             session: DbSession) -> VitalSignsRead:
    return await service.change_vital_signs(session, actor, id, body)


@router.delete("/vital-signs/{id}",
               summary="Refused: vital signs are never deleted (409 clinical_record_retention)",
               status_code=204, response_class=Response, responses=PROBLEM_RESPONSES)
async def delete_vital_signs(id: uuid.UUID, actor: WriteVitals, session: DbSession
                             ) -> Response:
    await service.delete_vital_signs(session, actor, id)
    return Response(status_code=204)  # pragma: no cover - the service always refuses


# --- consultations -----------------------------------------------------------------------


@router.post("/consultations", summary="Start a consultation from a checked-in appointment",
             response_model=ConsultationRead, status_code=201, responses=PROBLEM_RESPONSES)
async def create_consultation(body: ConsultationCreate, actor: WriteConsultations,
                              session: DbSession, response: Response) -> ConsultationRead:
    out = await service.create_consultation(session, actor, body)
    response.headers["Location"] = f"/api/v1/consultations/{out.id}"
    response.headers["ETag"] = etag(out.version)
    return out


@router.get("/consultations", summary="List consultations",
            response_model=Page[ConsultationRead], responses=PROBLEM_RESPONSES)
async def list_consultations(
    actor: ReadConsultations, session: DbSession, page: Pagination,
    patient_id: uuid.UUID | None = None, doctor_id: uuid.UUID | None = None,
    appointment_id: uuid.UUID | None = None, visit_id: uuid.UUID | None = None,
    status: ConsultationStatus | None = None, follow_up_required: bool | None = None,
    date_from: Annotated[date | None, Query(description="On or after (UTC)")] = None,
    date_to: Annotated[date | None, Query(description="On or before (UTC)")] = None,
    q: Annotated[str | None, Query(max_length=200,
                                   description="Text in diagnosis or chief complaint")] = None,
    sort: Annotated[str | None, Query(max_length=100, pattern=SORT,
                                      description="consultation_date, created_at, status")
                    ] = None,
) -> Page[ConsultationRead]:
    return await service.list_consultations(
        session, actor, page, patient_id=patient_id, doctor_id=doctor_id,
        appointment_id=appointment_id, visit_id=visit_id, status=status,
        follow_up_required=follow_up_required, date_from=date_from, date_to=date_to, q=q,
        sort=sort)


@router.get("/consultations/{id}", summary="Read a consultation",
            response_model=ConsultationRead, responses=PROBLEM_RESPONSES)
async def get_consultation(id: uuid.UUID, actor: ReadConsultations, session: DbSession,
                           response: Response) -> ConsultationRead:
    out = await service.read_consultation(session, actor, id)
    response.headers["ETag"] = etag(out.version)
    return out


@router.get("/consultations/{id}/details",
            summary="A consultation with patient, doctor, prescriptions and lab tests",
            response_model=ConsultationDetails, responses=PROBLEM_RESPONSES)
async def consultation_details(id: uuid.UUID, actor: ReadConsultations, session: DbSession
                               ) -> ConsultationDetails:
    return await service.consultation_details(session, actor, id)


@router.put("/consultations/{id}",
            summary="Update a consultation (locked 24 h after completion)",
            response_model=ConsultationRead, responses=PROBLEM_RESPONSES)
async def update_consultation(
    id: uuid.UUID, body: ConsultationUpdate, actor: WriteConsultations, session: DbSession,
    response: Response, if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> ConsultationRead:
    out = await service.update_consultation(session, actor, id, body,
                                             parse_if_match(if_match))
    response.headers["ETag"] = etag(out.version)
    return out


@router.delete("/consultations/{id}",
               summary="Refused: consultations are never deleted (409)",
               status_code=204, response_class=Response, responses=PROBLEM_RESPONSES)
async def delete_consultation(id: uuid.UUID, actor: WriteConsultations, session: DbSession
                              ) -> Response:
    await service.delete_consultation(session, actor, id)
    return Response(status_code=204)  # pragma: no cover - the service always refuses


@router.post("/consultations/{id}/complete",
             summary="Complete a consultation with prescriptions and lab orders (one "
                     "transaction)",
             response_model=ConsultationCompleted, responses=PROBLEM_RESPONSES)
async def complete_consultation(id: uuid.UUID, body: ConsultationComplete,
                                actor: WriteConsultations, session: DbSession
                                ) -> ConsultationCompleted:
    return await service.complete_consultation(session, actor, id, body)


# --- prescriptions -----------------------------------------------------------------------


@router.post("/prescriptions", summary="Prescribe a medication (doctors; allergy-checked)",
             response_model=PrescriptionRead, status_code=201, responses=PROBLEM_RESPONSES)
async def create_prescription(body: PrescriptionCreate, actor: WritePrescriptions,
                              session: DbSession, response: Response) -> PrescriptionRead:
    out = await service.create_prescription(session, actor, body)
    response.headers["Location"] = f"/api/v1/prescriptions/{out.id}"
    return out


@router.get("/prescriptions", summary="List prescriptions (active=true: current medications)",
            response_model=Page[PrescriptionRead], responses=PROBLEM_RESPONSES)
async def list_prescriptions(
    actor: ReadPrescriptions, session: DbSession, page: Pagination,
    patient_id: uuid.UUID | None = None, consultation_id: uuid.UUID | None = None,
    doctor_id: uuid.UUID | None = None,
    active: Annotated[bool | None, Query(
        description="true: active and within the 30-day validity today")] = None,
    is_active: Annotated[bool | None, Query(description="The stored flag only")] = None,
    date_from: Annotated[date | None, Query(description="Prescribed on or after")] = None,
    date_to: Annotated[date | None, Query(description="Prescribed on or before")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in medication name")
                 ] = None,
    sort: Annotated[str | None, Query(
        max_length=100, pattern=SORT,
        description="prescribed_date, medication_name, created_at")] = None,
) -> Page[PrescriptionRead]:
    return await service.list_prescriptions(
        session, actor, page, patient_id=patient_id, consultation_id=consultation_id,
        doctor_id=doctor_id, is_active=is_active, active=active, date_from=date_from,
        date_to=date_to, q=q, sort=sort)


@router.get("/prescriptions/{id}", summary="Read a prescription",
            response_model=PrescriptionRead, responses=PROBLEM_RESPONSES)
async def get_prescription(id: uuid.UUID, actor: ReadPrescriptions, session: DbSession
                           ) -> PrescriptionRead:
    return await service.read_prescription(session, actor, id)


@router.put("/prescriptions/{id}",
            summary="Modify or deactivate a prescription (doctors only)",
            response_model=PrescriptionRead, responses=PROBLEM_RESPONSES)
async def update_prescription(id: uuid.UUID, body: PrescriptionUpdate,
                              actor: WritePrescriptions, session: DbSession
                              ) -> PrescriptionRead:
    return await service.update_prescription(session, actor, id, body)


@router.delete("/prescriptions/{id}",
               summary="Deactivate a prescription (soft delete; the row stays)",
               response_model=PrescriptionRead, responses=PROBLEM_RESPONSES)
async def delete_prescription(id: uuid.UUID, actor: WritePrescriptions, session: DbSession
                              ) -> PrescriptionRead:
    return await service.deactivate_prescription(session, actor, id)


@router.get("/patients/{id}/current-medications",
            summary="A patient's current medications (active, within 30-day validity)",
            response_model=list[PrescriptionRead], responses=PROBLEM_RESPONSES)
async def current_medications(id: uuid.UUID, actor: ReadPrescriptions, session: DbSession
                              ) -> list[PrescriptionRead]:
    return await service.patient_current_medications(session, actor, id)
