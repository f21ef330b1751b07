"""HTTP routes of the scheduling module (seed 004 section 9, appointment endpoints)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Response

from hms.core.auth import DbSession, Principal, require
from hms.core.etag import etag, parse_if_match
from hms.core.pagination import Page, Pagination
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES
from hms.scheduling import service
from hms.scheduling.schemas import (
    AppointmentCancel,
    AppointmentCreate,
    AppointmentDetails,
    AppointmentRead,
    AppointmentStatus,
    AppointmentType,
    AppointmentUpdate,
)

router = APIRouter(prefix="/api/v1/appointments", tags=["appointments"])

ReadAppointments = Annotated[Principal, Depends(require(Perm.APPOINTMENT_READ))]
WriteAppointments = Annotated[Principal, Depends(require(Perm.APPOINTMENT_WRITE))]
CheckIn = Annotated[Principal, Depends(require(Perm.APPOINTMENT_CHECK_IN))]
Complete = Annotated[Principal, Depends(require(Perm.APPOINTMENT_COMPLETE))]


def _with_etag(response: Response, appointment: AppointmentRead) -> AppointmentRead:
    response.headers["ETag"] = etag(appointment.version)
    return appointment


@router.post("", summary="Book an appointment (no double-booking of the doctor)",
             response_model=AppointmentRead, status_code=201, responses=PROBLEM_RESPONSES)
async def book_appointment(body: AppointmentCreate, actor: WriteAppointments,
                           session: DbSession, response: Response) -> AppointmentRead:
    appointment = await service.book_appointment(session, actor, body)
    response.headers["Location"] = f"/api/v1/appointments/{appointment.id}"
    return _with_etag(response, appointment)


@router.get("", summary="List appointments (filters, sort by date/time)",
            response_model=Page[AppointmentRead], responses=PROBLEM_RESPONSES)
async def list_appointments(
    actor: ReadAppointments,
    session: DbSession,
    page: Pagination,
    status: Annotated[list[AppointmentStatus] | None,
                      Query(description="Repeat for several")] = None,
    patient_id: Annotated[uuid.UUID | None, Query()] = None,
    doctor_id: Annotated[uuid.UUID | None, Query()] = None,
    department_id: Annotated[uuid.UUID | None, Query()] = None,
    appointment_type: Annotated[list[AppointmentType] | None,
                                Query(description="Repeat for several")] = None,
    date_from: Annotated[date | None, Query(description="appointment_date on or after")
                         ] = None,
    date_to: Annotated[date | None, Query(description="appointment_date on or before")
                       ] = None,
    q: Annotated[str | None, Query(max_length=100, description="Text in reason or notes")
                 ] = None,
    sort: Annotated[str | None, Query(
        max_length=100, description="appointment_date, appointment_time, starts_at, status, "
        "created_at, updated_at; comma list, -desc")] = None,
) -> Page[AppointmentRead]:
    return await service.list_appointments(
        session, actor, page, statuses=status, patient_id=patient_id, doctor_id=doctor_id,
        department_id=department_id, appointment_types=appointment_type,
        date_from=date_from, date_to=date_to, q=q, sort=sort)


@router.get("/{id}", summary="Read an appointment", response_model=AppointmentRead,
            responses=PROBLEM_RESPONSES)
async def get_appointment(id: uuid.UUID, actor: ReadAppointments, session: DbSession,
                          response: Response) -> AppointmentRead:
    return _with_etag(response, await service.read_appointment(session, actor, id))


@router.get("/{id}/details",
            summary="Read an appointment with its patient, doctor and department",
            response_model=AppointmentDetails, responses=PROBLEM_RESPONSES)
async def get_appointment_details(id: uuid.UUID, actor: ReadAppointments,
                                  session: DbSession) -> AppointmentDetails:
    return await service.appointment_details(session, actor, id)


@router.put("/{id}", summary="Reschedule or edit an appointment; status along the machine",
            response_model=AppointmentRead, responses=PROBLEM_RESPONSES)
async def update_appointment(
    id: uuid.UUID,
    body: AppointmentUpdate,
    actor: WriteAppointments,
    session: DbSession,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> AppointmentRead:
    return _with_etag(response, await service.update_appointment(
        session, actor, id, body, parse_if_match(if_match)))


@router.delete("/{id}",
               summary="Delete (soft): cancels a scheduled or confirmed appointment",
               response_model=AppointmentRead, responses=PROBLEM_RESPONSES)
async def delete_appointment(id: uuid.UUID, actor: WriteAppointments, session: DbSession
                             ) -> AppointmentRead:
    return await service.delete_appointment(session, actor, id)


@router.post("/{id}/check-in", summary="Check the patient in (opens or joins the visit)",
             response_model=AppointmentRead, responses=PROBLEM_RESPONSES)
async def check_in(id: uuid.UUID, actor: CheckIn, session: DbSession, response: Response
                   ) -> AppointmentRead:
    return _with_etag(response, await service.check_in(session, actor, id))


@router.post("/{id}/cancel", summary="Cancel an appointment (reason optional)",
             response_model=AppointmentRead, responses=PROBLEM_RESPONSES)
async def cancel_appointment(
    id: uuid.UUID, actor: WriteAppointments, session: DbSession, response: Response,
    body: Annotated[AppointmentCancel | None, Body()] = None,
) -> AppointmentRead:
    return _with_etag(response, await service.cancel_appointment(
        session, actor, id, reason=body.reason if body else None))


@router.post("/{id}/complete", summary="Mark an in-progress appointment completed",
             response_model=AppointmentRead, responses=PROBLEM_RESPONSES)
async def complete_appointment(id: uuid.UUID, actor: Complete, session: DbSession,
                               response: Response) -> AppointmentRead:
    return _with_etag(response, await service.complete_appointment(session, actor, id))
