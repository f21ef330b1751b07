"""HTTP routes of the forms module (seed 000 paths): SH.MR.FRM.05 and SH.MR.FRM.04."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response

from hms.core.auth import DbSession, Principal, require
from hms.core.etag import etag, parse_if_match
from hms.core.pagination import Page, Pagination
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES
from hms.forms import service
from hms.forms.schemas import (
    NursingAssessmentCreate,
    NursingAssessmentRead,
    NursingAssessmentUpdate,
    RadiologyAssessmentCreate,
    RadiologyAssessmentRead,
)

router = APIRouter(prefix="/api/v1/visits/{visit_id}", tags=["forms"])

ReadForms = Annotated[Principal, Depends(require(Perm.FORM_READ))]
WriteNursing = Annotated[Principal, Depends(require(Perm.NURSING_ASSESSMENT_WRITE))]
WriteRadiology = Annotated[Principal, Depends(require(Perm.RADIOLOGY_ASSESSMENT_WRITE))]

_NURSING_PATH = "/api/v1/visits/{visit_id}/nursing-assessment"


@router.post(
    "/nursing-assessment",
    summary="Fill the nursing assessment SH.MR.FRM.05 (vitals, pain, Morse fall risk)",
    response_model=NursingAssessmentRead, status_code=201, responses=PROBLEM_RESPONSES,
)
async def create_nursing_assessment(
    visit_id: uuid.UUID, body: NursingAssessmentCreate, actor: WriteNursing,
    session: DbSession, response: Response,
) -> NursingAssessmentRead:
    form = await service.create_nursing_assessment(session, actor, visit_id, body)
    response.headers["Location"] = _NURSING_PATH.format(visit_id=visit_id)
    response.headers["ETag"] = etag(form.submission.version)
    return form


@router.get(
    "/nursing-assessment",
    summary="Read the visit's nursing assessment SH.MR.FRM.05 with its amendments",
    response_model=NursingAssessmentRead, responses=PROBLEM_RESPONSES,
)
async def get_nursing_assessment(
    visit_id: uuid.UUID, actor: ReadForms, session: DbSession, response: Response,
) -> NursingAssessmentRead:
    form = await service.get_nursing_assessment(session, actor, visit_id)
    response.headers["ETag"] = etag(form.submission.version)
    return form


@router.put(
    "/nursing-assessment",
    summary="Edit the nursing assessment (amends a completed form); send If-Match or version",
    response_model=NursingAssessmentRead, responses=PROBLEM_RESPONSES,
)
async def update_nursing_assessment(
    visit_id: uuid.UUID,
    body: NursingAssessmentUpdate,
    actor: WriteNursing,
    session: DbSession,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> NursingAssessmentRead:
    form = await service.update_nursing_assessment(
        session, actor, visit_id, body, parse_if_match(if_match))
    response.headers["ETag"] = etag(form.submission.version)
    return form


@router.post(
    "/radiology-assessment",
    summary="Fill a radiology assessment SH.MR.FRM.04 (one per study) with contrast screening",
    response_model=RadiologyAssessmentRead, status_code=201, responses=PROBLEM_RESPONSES,
)
async def create_radiology_assessment(
    visit_id: uuid.UUID, body: RadiologyAssessmentCreate, actor: WriteRadiology,
    session: DbSession, response: Response,
) -> RadiologyAssessmentRead:
    form = await service.create_radiology_assessment(session, actor, visit_id, body)
    response.headers["ETag"] = etag(form.submission.version)
    return form


@router.get(
    "/radiology-assessment",
    summary="List the visit's radiology assessments SH.MR.FRM.04, newest first",
    response_model=Page[RadiologyAssessmentRead], responses=PROBLEM_RESPONSES,
)
async def list_radiology_assessments(
    visit_id: uuid.UUID, actor: ReadForms, session: DbSession, page: Pagination,
) -> Page[RadiologyAssessmentRead]:
    return await service.list_radiology_assessments(session, actor, visit_id, page)
