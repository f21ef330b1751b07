"""The service catalogue: create, list, read, update, deactivate (seed 004 ``services``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.billing.models import Service
from hms.billing.repository import (
    ServiceFilters,
    ServiceRepository,
)
from hms.billing.schemas import (
    ServiceCreate,
    ServiceRead,
    ServiceSort,
    ServiceType,
    ServiceUpdate,
)
from hms.billing.service._shared import (
    _field_error,
)
from hms.core.auth import Principal
from hms.core.errors import NotFound
from hms.core.pagination import Page, PageParams
from hms.core.sorting import parse_sort
from hms.organization import service as organization_service


def _service_snapshot(s: Service) -> dict[str, Any]:
    return {k: getattr(s, k) for k in (
        "name", "description", "service_type", "default_price", "default_duration_minutes",
        "department_id", "is_active")}


async def _check_department(session: AsyncSession, department_id: uuid.UUID | None) -> None:
    if department_id is None:
        return
    await organization_service.require_department(session, department_id)


async def create_service(session: AsyncSession, actor: Principal, data: ServiceCreate
                         ) -> ServiceRead:
    """Add a service to the catalogue.

    Args:
        data: ``default_price`` positive, 2 decimals; ``department_id`` optional.

    Raises:
        ValidationFailed (422): unknown ``department_id``.
    """
    await _check_department(session, data.department_id)
    service = await ServiceRepository(session).add(Service(
        name=data.name, description=data.description, service_type=data.service_type.value,
        default_price=data.default_price, default_duration_minutes=data.default_duration_minutes,
        department_id=data.department_id, is_active=data.is_active))
    await audit.record(session, AuditAction.CREATE, "service", service.id,
                       changes={"after": _service_snapshot(service)})
    return ServiceRead.model_validate(service)


async def _service_row(session: AsyncSession, service_id: uuid.UUID) -> Service:
    service = await ServiceRepository(session).get(service_id)
    if service is None:
        raise NotFound("Service not found")
    return service


async def get_service(session: AsyncSession, service_id: uuid.UUID) -> ServiceRead:
    """A catalogue service.

    Raises:
        NotFound (404): no such service.
    """
    return ServiceRead.model_validate(await _service_row(session, service_id))


async def list_services(
    session: AsyncSession, page: PageParams, *, q: str | None = None,
    service_types: list[ServiceType] | None = None, department_id: uuid.UUID | None = None,
    is_active: bool | None = None, sort: str | None = None,
) -> Page[ServiceRead]:
    """A page of catalogue services (default: by name).

    Args:
        q: case-insensitive substring of the name.
        sort: comma list of :class:`ServiceSort` keys, ``-`` for descending.

    Raises:
        ValidationFailed (422): unknown sort key.
    """
    order = parse_sort(sort, ServiceSort, [("name", False)])
    rows, total = await ServiceRepository(session).page(
        ServiceFilters(q=q, service_types=tuple(t.value for t in service_types or ()),
                       department_id=department_id, is_active=is_active),
        offset=page.offset, limit=page.page_size, order=order)
    return Page[ServiceRead](items=[ServiceRead.model_validate(s) for s in rows], total=total,
                             page=page.page, page_size=page.page_size)


async def update_service(session: AsyncSession, actor: Principal, service_id: uuid.UUID,
                         data: ServiceUpdate) -> ServiceRead:
    """Change a catalogue service (existing invoice lines keep their prices).

    Raises:
        NotFound (404): no such service.
        ValidationFailed (422): unknown ``department_id`` or a required field set to null.
    """
    service = await _service_row(session, service_id)
    fields = data.model_dump(exclude_unset=True)
    for required in ("name", "service_type", "default_price", "is_active"):
        if required in fields and fields[required] is None:
            raise _field_error(required, "may not be null", "missing")
    if fields.get("department_id") is not None:
        await _check_department(session, fields["department_id"])
    before = _service_snapshot(service)
    for key, value in fields.items():
        setattr(service, key, value.value if isinstance(value, ServiceType) else value)
    await session.flush()
    await audit.record(session, AuditAction.UPDATE, "service", service.id,
                       changes=audit.diff(before, _service_snapshot(service)))
    return ServiceRead.model_validate(service)


async def deactivate_service(session: AsyncSession, actor: Principal, service_id: uuid.UUID
                             ) -> ServiceRead:
    """``DELETE /services/{id}``: mark the service inactive (HCMS 14.7 soft delete); it can
    no longer be put on an invoice, existing lines keep it.

    Raises:
        NotFound (404): no such service.
    """
    service = await _service_row(session, service_id)
    if service.is_active:
        service.is_active = False
        await session.flush()
        await audit.record(session, AuditAction.DEACTIVATE, "service", service.id,
                           changes=audit.diff({"is_active": True}, {"is_active": False}))
    return ServiceRead.model_validate(service)
