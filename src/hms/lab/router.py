"""HTTP routes of the lab module: seed 004 ``/lab-tests``."""

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
from hms.lab import service
from hms.lab.schemas import (
    LabResultEntry,
    LabTestCreate,
    LabTestRead,
    LabTestStatus,
    LabTestUpdate,
    SampleCollection,
)

router = APIRouter(prefix="/api/v1/lab-tests", tags=["lab"])

ReadLabTests = Annotated[Principal, Depends(require(Perm.LAB_TEST_READ))]
OrderLabTests = Annotated[Principal, Depends(require(Perm.LAB_TEST_ORDER))]
ProcessLabTests = Annotated[Principal, Depends(require(Perm.LAB_TEST_PROCESS))]
IfMatch = Annotated[str | None, Header(max_length=40)]

SORT = r"^-?[a-z_]+(,-?[a-z_]+)*$"


@router.post("", summary="Order a lab test (doctors only)", response_model=LabTestRead,
             status_code=201, responses=PROBLEM_RESPONSES)
async def order_lab_test(body: LabTestCreate, actor: OrderLabTests, session: DbSession,
                         response: Response) -> LabTestRead:
    out = await service.create_lab_test(session, actor, body)
    response.headers["Location"] = f"/api/v1/lab-tests/{out.id}"
    response.headers["ETag"] = etag(out.version)
    return out


@router.get("", summary="List lab tests", response_model=Page[LabTestRead],
            responses=PROBLEM_RESPONSES)
async def list_lab_tests(
    actor: ReadLabTests,
    session: DbSession,
    page: Pagination,
    status: Annotated[list[LabTestStatus] | None, Query(description="Repeat for several")
                      ] = None,
    patient_id: uuid.UUID | None = None,
    consultation_id: uuid.UUID | None = None,
    visit_id: uuid.UUID | None = None,
    ordered_by_doctor_id: Annotated[uuid.UUID | None, Query(
        description="The ordering doctor (alias doctor_id)")] = None,
    doctor_id: Annotated[uuid.UUID | None, Query(description="Alias of ordered_by_doctor_id")
                         ] = None,
    test_type: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in the test name")
                 ] = None,
    date_from: Annotated[date | None, Query(description="Ordered on or after (UTC)")] = None,
    date_to: Annotated[date | None, Query(description="Ordered on or before (UTC)")] = None,
    sort: Annotated[str | None, Query(
        max_length=100, pattern=SORT,
        description="ordered_date, sample_collected_date, result_date, status, test_name, "
                    "created_at, updated_at; -desc")] = None,
) -> Page[LabTestRead]:
    return await service.list_lab_tests(
        session, actor, page, statuses=status, patient_id=patient_id,
        consultation_id=consultation_id, visit_id=visit_id,
        ordered_by_doctor_id=ordered_by_doctor_id or doctor_id, test_type=test_type, q=q,
        date_from=date_from, date_to=date_to, sort=sort)


@router.get("/{id}", summary="Read a lab test", response_model=LabTestRead,
            responses=PROBLEM_RESPONSES)
async def get_lab_test(id: uuid.UUID, actor: ReadLabTests, session: DbSession,
                       response: Response) -> LabTestRead:
    out = await service.read_lab_test(session, actor, id)
    response.headers["ETag"] = etag(out.version)
    return out


@router.put("/{id}",
            summary="Update a lab test (notes, type, one status step or cancel; not results)",
            response_model=LabTestRead, responses=PROBLEM_RESPONSES)
async def update_lab_test(id: uuid.UUID, body: LabTestUpdate, actor: ProcessLabTests,
                          session: DbSession, response: Response,
                          if_match: IfMatch = None) -> LabTestRead:
    out = await service.update_lab_test(session, actor, id, body, parse_if_match(if_match))
    response.headers["ETag"] = etag(out.version)
    return out


@router.delete("/{id}",
               summary="Withdraw an ordered lab test (soft: status cancelled; 409 later)",
               response_model=LabTestRead, responses=PROBLEM_RESPONSES)
async def delete_lab_test(
    id: uuid.UUID, actor: ProcessLabTests, session: DbSession,
    reason: Annotated[str | None, Query(max_length=500, description="Why it is withdrawn")
                      ] = None,
) -> LabTestRead:
    return await service.cancel_lab_test(session, actor, id, reason)


@router.post("/{id}/collect-sample", summary="Mark the sample as collected",
             response_model=LabTestRead, responses=PROBLEM_RESPONSES)
async def collect_sample(id: uuid.UUID, actor: ProcessLabTests, session: DbSession,
                         response: Response,
                         body: Annotated[SampleCollection | None, Body()] = None,
                         if_match: IfMatch = None) -> LabTestRead:
    out = await service.collect_sample(session, actor, id, body, parse_if_match(if_match))
    response.headers["ETag"] = etag(out.version)
    return out


@router.post("/{id}/enter-results", summary="Enter the results (completes the test)",
             response_model=LabTestRead, responses=PROBLEM_RESPONSES)
async def enter_results(id: uuid.UUID, body: LabResultEntry, actor: ProcessLabTests,
                        session: DbSession, response: Response,
                        if_match: IfMatch = None) -> LabTestRead:
    out = await service.enter_results(session, actor, id, body, parse_if_match(if_match))
    response.headers["ETag"] = etag(out.version)
    return out
