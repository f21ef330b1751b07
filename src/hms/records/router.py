"""HTTP route of the patient history view."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from hms.core.auth import DbSession, Principal, require
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES
from hms.records import service
from hms.records.schemas import PatientHistory

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])

ReadRecords = Annotated[Principal, Depends(require(Perm.VISIT_READ))]


@router.get("/{patient_ssn}/history",
            summary="A patient's visits with forms, diagnoses and documents, newest first",
            response_model=PatientHistory, responses=PROBLEM_RESPONSES)
async def patient_history(
    patient_ssn: Annotated[str, Path(max_length=64,
                                     description="National ID, patient number or UUID")],
    actor: ReadRecords,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=200, description="Newest visits to include")] = 50,
) -> PatientHistory:
    return await service.patient_history(session, actor, patient_ssn, limit=limit)
