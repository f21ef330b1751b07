"""HTTP routes of the visits module (seed 000 paths)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from hms.core.auth import DbSession, Principal, read_only, require
from hms.core.etag import etag, parse_if_match
from hms.core.pagination import Page, Pagination
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES
from hms.visits import service
from hms.visits.schemas import VisitCreate, VisitRead, VisitStatus, VisitUpdate

router = APIRouter(prefix="/api/v1/visits", tags=["visits"])

ReadVisits = Annotated[Principal, Depends(require(Perm.VISIT_READ))]
CreateVisits = Annotated[Principal, Depends(require(Perm.VISIT_CREATE))]
UpdateVisits = Annotated[Principal, Depends(require(Perm.VISIT_UPDATE))]


@router.get("", summary="List visits (physicians see open visits first)",
            response_model=Page[VisitRead], responses=PROBLEM_RESPONSES)
@read_only
async def list_visits(
    actor: ReadVisits,
    session: DbSession,
    page: Pagination,
    status: Annotated[list[VisitStatus] | None, Query(description="Repeat for several")] = None,
    patient: Annotated[str | None, Query(max_length=64,
                                         description="Patient UUID, number or national ID")
                       ] = None,
    patient_id: Annotated[str | None, Query(max_length=64, description="Alias of patient")
                          ] = None,
    physician_id: Annotated[uuid.UUID | None, Query()] = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    date_from: Annotated[date | None, Query(description="Started on or after (UTC)")] = None,
    date_to: Annotated[date | None, Query(description="Started on or before (UTC)")] = None,
    sort: Annotated[str | None, Query(max_length=100, pattern=r"^-?[a-z_]+(,-?[a-z_]+)*$",
                                      description="started_at, status, updated_at; -desc")
                    ] = None,
) -> Page[VisitRead]:
    return await service.list_visits(
        session, actor, page, statuses=status, patient=patient or patient_id,
        physician_id=physician_id, department=department, date_from=date_from,
        date_to=date_to, sort=sort,
    )


@router.post("", summary="Open a visit for a patient", response_model=VisitRead,
             status_code=201, responses=PROBLEM_RESPONSES)
async def open_visit(body: VisitCreate, actor: CreateVisits, session: DbSession,
                     response: Response) -> VisitRead:
    visit = await service.open_visit(session, actor, body)
    response.headers["Location"] = f"/api/v1/visits/{visit.id}"
    response.headers["ETag"] = etag(visit.version)
    return visit


@router.get("/{visit_id}", summary="Read a visit", response_model=VisitRead,
            responses=PROBLEM_RESPONSES)
@read_only
async def get_visit(visit_id: uuid.UUID, actor: ReadVisits, session: DbSession,
                    response: Response) -> VisitRead:
    visit = await service.read_visit(session, actor, visit_id)
    response.headers["ETag"] = etag(visit.version)
    return visit


@router.put("/{visit_id}",
            summary="Update a visit (diagnosis, notes, status); send If-Match or version",
            response_model=VisitRead, responses=PROBLEM_RESPONSES)
async def update_visit(
    visit_id: uuid.UUID,
    body: VisitUpdate,
    actor: UpdateVisits,
    session: DbSession,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> VisitRead:
    visit = await service.update_visit(session, actor, visit_id, body, parse_if_match(if_match))
    response.headers["ETag"] = etag(visit.version)
    return visit
