"""HTTP routes of the patients module (seed 000 and seed 004 paths): list, search, register,
read, update, deactivate, and the full identifiers of one patient."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from hms.core.auth import (
    DbSession,
    Token,
    authorize,
    read_only,
    request_session,
    sessionless_reads,
)
from hms.core.etag import etag, parse_if_match
from hms.core.pagination import Page, Pagination
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES
from hms.patients import service
from hms.patients.permissions import (
    DeletePatients,
    ReadIdentifiers,
    ReadPatients,
    WritePatients,
    readable_by,
)
from hms.patients.schemas import (
    Gender,
    PatientCreate,
    PatientIdentifiers,
    PatientRead,
    PatientUpdate,
)

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])

PatientRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="Any patient reference: the 14-digit national ID (the seed's SSN), the "
        "patient number (PT-YYYYMMDD-NNNN, the seed's medical number) or the patient UUID.",
        examples=["PT-20250920-0001"],
    ),
]

# No control characters in free-text search terms (PostgreSQL refuses NUL in text).
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"

_ETAG_HEADER = {"ETag": {"description": 'Row version as a weak ETag, e.g. W/"3"',
                         "schema": {"type": "string"}}}


@router.get(
    "/search",
    summary="Search patients by national ID, mobile, patient number or name",
    response_model=Page[PatientRead],
    responses=PROBLEM_RESPONSES,
)
@read_only
async def search_patients(
    actor: ReadPatients,
    session: DbSession,
    page: Pagination,
    ssn: Annotated[str | None, Query(pattern=r"^\s*\d{14}\s*$",
                                     description="Exact 14-digit national ID")] = None,
    mobile: Annotated[str | None, Query(max_length=20,
                                        description="Egyptian mobile, e.g. 01012345678")] = None,
    medical_number: Annotated[str | None, Query(max_length=32, pattern=_PRINTABLE,
                                                description="Exact patient number")] = None,
    name: Annotated[str | None, Query(max_length=100, pattern=_PRINTABLE, description=(
        "Part of the name; case- and accent-insensitive, every word must occur"))] = None,
    q: Annotated[str | None, Query(max_length=100, pattern=_PRINTABLE, description=(
        "Any of the above: a national ID, mobile, PT- number (prefix) or name; or an exact "
        "passport or phone number"))] = None,
    passport: Annotated[str | None, Query(max_length=32, pattern=_PRINTABLE, description=(
        "Exact passport number (case, spaces and dashes ignored)"))] = None,
) -> Page[PatientRead]:
    return await service.search_patients(session, page, ssn=ssn, mobile=mobile,
                                         medical_number=medical_number, name=name, q=q,
                                         passport=passport,
                                         access=service.identifier_access(actor),
                                         within=readable_by(actor))


@router.get(
    "",
    summary="List patients with filters and sorting (seed 004)",
    response_model=Page[PatientRead],
    responses=PROBLEM_RESPONSES,
)
@read_only
async def list_patients(
    actor: ReadPatients,
    session: DbSession,
    page: Pagination,
    q: Annotated[str | None, Query(max_length=100, pattern=_PRINTABLE, description=(
        "A national ID, mobile, PT- number (prefix) or name; or an exact passport or "
        "phone number"))] = None,
    name: Annotated[str | None, Query(max_length=100, pattern=_PRINTABLE, description=(
        "Part of the name; case- and accent-insensitive, every word must occur"))] = None,
    gender: Annotated[Gender | None, Query(description="male, female, other, unknown")] = None,
    is_active: Annotated[bool | None, Query(description="Active (or inactive) only")] = None,
    insurance_provider_id: Annotated[uuid.UUID | None, Query()] = None,
    date_from: Annotated[date | None, Query(description="Registered on or after (UTC)")] = None,
    date_to: Annotated[date | None, Query(description="Registered on or before (UTC)")] = None,
    sort: Annotated[str | None, Query(max_length=100, pattern=r"^-?[a-z_]+(,-?[a-z_]+)*$",
                                      description="e.g. `-created_at,full_name`; keys: "
                                      "full_name, family_name, patient_number, "
                                      "date_of_birth, created_at, updated_at")] = None,
) -> Page[PatientRead]:
    return await service.list_patients(
        session, page, q=q, name=name, gender=gender.value if gender else None,
        is_active=is_active, insurance_provider_id=insurance_provider_id,
        date_from=date_from, date_to=date_to, sort=sort,
        access=service.identifier_access(actor), within=readable_by(actor))


@router.post(
    "",
    summary="Register a patient (seed 000 field names accepted)",
    response_model=PatientRead,
    status_code=201,
    responses={**PROBLEM_RESPONSES,
               201: {"description": "Registered", "headers": {
                   **_ETAG_HEADER,
                   "Location": {"description": "URL of the new patient",
                                "schema": {"type": "string"}}}}},
)
async def create_patient(
    body: PatientCreate, actor: WritePatients, session: DbSession, response: Response
) -> PatientRead:
    patient = await service.create_patient(session, body, created_by=actor.user_id,
                                           access=service.identifier_access(actor))
    response.headers["Location"] = f"{router.prefix}/{patient.id}"
    response.headers["ETag"] = etag(patient.version)
    return patient


@router.get(
    "/{patient_ssn}",
    summary="Read a patient by national ID, patient number or UUID",
    response_model=PatientRead,
    responses={**PROBLEM_RESPONSES, 200: {"description": "The patient",
                                          "headers": _ETAG_HEADER}},
)
@read_only
async def get_patient(patient_ssn: PatientRef, token: Token, request: Request) -> Response:
    # The busiest read (issue 5) declares no session: a caller who reaches every patient
    # is read without one on PostgreSQL; a scoped caller (or SQLite) through the
    # request's session.
    if sessionless_reads(request):
        actor = await authorize(request, token, Perm.PATIENT_READ)
        if readable_by(actor) is None:
            patient = await service.read_patient(request.app.state.db, patient_ssn,
                                                 access=service.identifier_access(actor))
            return _patient_response(patient)
    async with request_session(request) as session:
        actor = await authorize(request, token, Perm.PATIENT_READ, session)
        patient = await service.get_patient(session, patient_ssn,
                                            access=service.identifier_access(actor),
                                            within=readable_by(actor))
    return _patient_response(patient)


def _patient_response(patient: PatientRead) -> Response:
    """The patient as JSON with its version as ``ETag``, serialized once (the route
    returns a response, so FastAPI does not dump and validate the model again)."""
    return Response(patient.model_dump_json(), media_type="application/json",
                    headers={"ETag": etag(patient.version)})


@router.get(
    "/{patient_ssn}/identifiers",
    summary="A patient's full identifiers and contact details (audited)",
    response_model=PatientIdentifiers,
    responses=PROBLEM_RESPONSES,
)
@read_only
async def get_identifiers(
    patient_ssn: PatientRef, actor: ReadIdentifiers, session: DbSession, response: Response
) -> PatientIdentifiers:
    response.headers["Cache-Control"] = "no-store"
    return await service.get_identifiers(session, patient_ssn, within=readable_by(actor))


@router.put(
    "/{patient_ssn}",
    summary="Update a patient; send If-Match or version",
    response_model=PatientRead,
    responses={**PROBLEM_RESPONSES, 200: {"description": "Updated",
                                          "headers": _ETAG_HEADER}},
)
async def update_patient(
    patient_ssn: PatientRef,
    body: PatientUpdate,
    actor: WritePatients,
    session: DbSession,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=40, description=(
        'ETag read from GET, e.g. W/"3" (or send version in the body)'))] = None,
) -> PatientRead:
    patient = await service.update_patient(session, patient_ssn, body,
                                           if_match=parse_if_match(if_match),
                                           access=service.identifier_access(actor),
                                           within=readable_by(actor))
    response.headers["ETag"] = etag(patient.version)
    return patient


@router.delete(
    "/{patient_ssn}",
    summary="Deactivate a patient (soft delete; the medical record and history stay)",
    response_model=PatientRead,
    responses={**PROBLEM_RESPONSES, 200: {"description": "Deactivated",
                                          "headers": _ETAG_HEADER}},
)
async def deactivate_patient(
    patient_ssn: PatientRef, actor: DeletePatients, session: DbSession, response: Response
) -> PatientRead:
    patient = await service.deactivate_patient(session, patient_ssn,
                                               access=service.identifier_access(actor),
                                               within=readable_by(actor))
    response.headers["ETag"] = etag(patient.version)
    return patient
