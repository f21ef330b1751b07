"""Writing and reading the audit trail. Callers pass the session of their own transaction,
so an audited change and its audit row commit (or roll back) together."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit.models import AuditEvent
from hms.audit.schemas import AuditAction, AuditEventRead
from hms.core import context


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Changed fields as ``{"before": {...}, "after": {...}}`` (only keys whose value changed)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {
        "before": {k: _jsonable(before.get(k)) for k in keys},
        "after": {k: _jsonable(after.get(k)) for k in keys},
    }


async def record(
    session: AsyncSession,
    action: AuditAction,
    entity_type: str,
    entity_id: object | None = None,
    *,
    patient_id: uuid.UUID | None = None,
    changes: Mapping[str, Any] | None = None,
    user_id: uuid.UUID | None = None,
    username: str | None = None,
) -> None:
    """Add one audit row to the caller's transaction.

    Args:
        action: what happened.
        entity_type: table-level name, e.g. ``"patient"``, ``"visit"``.
        entity_id: the entity's id (stringified).
        patient_id: the patient the data belongs to, for per-patient disclosure reports.
        changes: e.g. :func:`diff` output, or ``{"after": {...}}`` for a create.
        user_id, username: override the request's actor (e.g. a failed login).

    The actor, IP, user agent and request id come from :mod:`hms.core.context`.
    """
    ctx = context.current()
    session.add(
        AuditEvent(
            user_id=user_id or ctx.user_id,
            username=username or ctx.username,
            action=action.value,
            entity_type=entity_type,
            entity_id=str(entity_id) if entity_id is not None else None,
            patient_id=patient_id,
            changes=_jsonable(changes) if changes is not None else None,
            ip=ctx.ip,
            user_agent=(ctx.user_agent or "")[:400] or None,
            request_id=ctx.request_id or None,
        )
    )


async def record_reads(
    session: AsyncSession, entity_type: str, entities: Iterable[tuple[object, uuid.UUID | None]]
) -> None:
    """Audit a read of several entities at once: ``(entity_id, patient_id)`` pairs."""
    for entity_id, patient_id in entities:
        await record(session, AuditAction.READ, entity_type, entity_id, patient_id=patient_id)


async def list_events(
    session: AsyncSession,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    patient_id: uuid.UUID | None = None,
    action: str | None = None,
    limit: int = 100,
) -> list[AuditEventRead]:
    """Audit rows, newest first, filtered by the given fields."""
    stmt = select(AuditEvent).order_by(AuditEvent.occurred_at.desc()).limit(limit)
    if entity_type:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    if patient_id:
        stmt = stmt.where(AuditEvent.patient_id == patient_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    rows = (await session.scalars(stmt)).all()
    return [AuditEventRead.model_validate(r) for r in rows]


async def count_events(session: AsyncSession, **filters: Any) -> int:
    """Number of audit rows matching equality ``filters`` on AuditEvent columns."""
    stmt = select(func.count()).select_from(AuditEvent)
    for key, value in filters.items():
        stmt = stmt.where(getattr(AuditEvent, key) == value)
    return int((await session.scalar(stmt)) or 0)
