"""HTTP route of the audit trail (seed 004 ``GET /audit-logs``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from hms.audit import service
from hms.audit.schemas import AuditLogPage
from hms.core.auth import DbSession, Principal, require
from hms.core.pagination import MAX_PAGE_SIZE
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["audit"])

ReadAudit = Annotated[Principal, Depends(require(Perm.AUDIT_READ))]
Word = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]


@router.get("/audit-logs", summary="The audit trail, newest first (cursor pagination)",
            response_model=AuditLogPage, responses=PROBLEM_RESPONSES)
async def list_audit_logs(
    actor: ReadAudit,
    session: DbSession,
    user_id: Annotated[uuid.UUID | None, Query(description="Acting user")] = None,
    entity_type: Word = None,
    entity_id: Word = None,
    patient_id: Annotated[uuid.UUID | None, Query(description="Patient the row is about")
                          ] = None,
    action: Word = None,
    occurred_from: Annotated[datetime | None, Query(
        alias="from", description="From this time (inclusive), ISO 8601; naive = UTC")] = None,
    occurred_to: Annotated[datetime | None, Query(
        alias="to", description="Before this time (exclusive), ISO 8601; naive = UTC")] = None,
    cursor: Annotated[str | None, Query(pattern=r"^[1-9][0-9]{0,17}$",
                                        description="next_cursor of the previous page")
                      ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Rows per page")] = 50,
) -> AuditLogPage:
    return await service.page_events(
        session, user_id=user_id, entity_type=entity_type, entity_id=entity_id,
        patient_id=patient_id, action=action, occurred_from=occurred_from,
        occurred_to=occurred_to, cursor=cursor, limit=limit)
