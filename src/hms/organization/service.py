"""Organization use cases (seed 004 HCMS sections 6 and 9): departments and insurance
providers, and the look-ups other modules use to validate references to them.

Cross-module contract (return schemas, never ORM rows): :func:`get_department`,
:func:`require_department`, :func:`departments_by_ids`, :func:`department_by_name`,
:func:`get_insurance_provider`, :func:`require_insurance_provider`,
:func:`insurance_providers_by_ids`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.core.errors import NotFound, RuleViolation
from hms.core.pagination import Page, PageParams
from hms.core.sorting import parse_sort
from hms.organization.errors import DepartmentInUse, InsuranceProviderInUse, NameTaken
from hms.organization.models import Department, InsuranceProvider
from hms.organization.repository import NamedRepository
from hms.organization.schemas import (
    DepartmentCreate,
    DepartmentRead,
    DepartmentSort,
    DepartmentUpdate,
    InsuranceProviderCreate,
    InsuranceProviderRead,
    InsuranceProviderSort,
    InsuranceProviderUpdate,
)


class UnknownDepartment(RuleViolation):
    """422: a request names a department id that does not exist."""

    code = "department_not_found"


class UnknownInsuranceProvider(RuleViolation):
    """422: a request names an insurance provider id that does not exist."""

    code = "insurance_provider_not_found"


_DEPARTMENT_FIELDS = ("name", "description")
_PROVIDER_FIELDS = ("name", "contact_person", "phone", "email", "address", "coverage_policy")


def _departments(session: AsyncSession) -> NamedRepository[Department]:
    return NamedRepository(session, Department)


def _providers(session: AsyncSession) -> NamedRepository[InsuranceProvider]:
    return NamedRepository(session, InsuranceProvider)


def _snapshot(row: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {f: getattr(row, f) for f in fields}


# -- departments ----------------------------------------------------------------------------


async def create_department(session: AsyncSession, data: DepartmentCreate) -> DepartmentRead:
    """Create a department (audited ``create``).

    Raises:
        NameTaken (409, ``name_taken``): a department already has this name
            (case-insensitive; seed 004 6 "Department name (unique)").
    """
    repo = _departments(session)
    if await repo.by_name(data.name) is not None:
        raise NameTaken(f"A department named {data.name!r} already exists")
    row = Department(name=data.name, description=data.description)
    try:
        async with session.begin_nested():
            await repo.add(row)
    except IntegrityError as exc:
        raise NameTaken(f"A department named {data.name!r} already exists") from exc
    await audit.record(session, AuditAction.CREATE, "department", row.id,
                       changes={"after": _snapshot(row, _DEPARTMENT_FIELDS)})
    return DepartmentRead.model_validate(row)


async def list_departments(session: AsyncSession, page: PageParams, *, q: str | None = None,
                           sort: str | None = None) -> Page[DepartmentRead]:
    """A page of departments; ``q`` matches part of the name (case-insensitive); ``sort``
    keys :class:`DepartmentSort` (``-key`` descending; default by name).

    Raises:
        ValidationFailed (422): an unknown sort key.
    """
    order = parse_sort(sort, DepartmentSort, [("name", False)])
    rows, total = await _departments(session).list(
        offset=page.offset, limit=page.page_size, q=q, order=order)
    return Page[DepartmentRead](items=[DepartmentRead.model_validate(r) for r in rows],
                                total=total, page=page.page, page_size=page.page_size)


async def get_department(session: AsyncSession, department_id: uuid.UUID) -> DepartmentRead:
    """A department by id.

    Raises:
        NotFound (404): no such department.
    """
    row = await _departments(session).get(department_id)
    if row is None:
        raise NotFound("Department not found")
    return DepartmentRead.model_validate(row)


async def require_department(session: AsyncSession, department_id: uuid.UUID,
                             field: str = "department_id") -> DepartmentRead:
    """The department a request refers to, for validating input of other modules.

    Raises:
        UnknownDepartment (422, ``department_not_found``): no such department; ``errors``
            names ``field``.
    """
    row = await _departments(session).get(department_id)
    if row is None:
        raise UnknownDepartment(
            "The department does not exist",
            errors=[{"field": field, "in": "body", "message": "unknown department",
                     "type": "department_not_found"}])
    return DepartmentRead.model_validate(row)


async def departments_by_ids(session: AsyncSession, ids: Iterable[uuid.UUID | None]
                             ) -> dict[uuid.UUID, DepartmentRead]:
    """The departments of ``ids`` (None and unknown ids are skipped), in one query."""
    rows = await _departments(session).by_ids(i for i in ids if i is not None)
    return {r.id: DepartmentRead.model_validate(r) for r in rows}


async def department_by_name(session: AsyncSession, name: str) -> DepartmentRead | None:
    """The department named ``name`` (case-insensitive), or None."""
    row = await _departments(session).by_name(name)
    return DepartmentRead.model_validate(row) if row else None


async def update_department(session: AsyncSession, department_id: uuid.UUID,
                            data: DepartmentUpdate) -> DepartmentRead:
    """Rename or describe a department (partial; audited ``update`` with old/new values).

    A new name is copied to the ``department`` name of the department's users in the same
    transaction (``:department`` row scopes compare names).

    Raises:
        NotFound (404): no such department.
        NameTaken (409, ``name_taken``): another department has the new name.
    """
    repo = _departments(session)
    row = await repo.get(department_id)
    if row is None:
        raise NotFound("Department not found")
    before = _snapshot(row, _DEPARTMENT_FIELDS)
    fields = data.model_dump(exclude_unset=True)
    if fields.get("name") is not None and fields["name"].lower() != row.name.lower():
        other = await repo.by_name(fields["name"])
        if other is not None and other.id != row.id:
            raise NameTaken(f"A department named {fields['name']!r} already exists")
    if fields.get("name") is not None:
        row.name = fields["name"]
    if "description" in fields:
        row.description = fields["description"]
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise NameTaken("Another department already has this name") from exc
    if row.name != before["name"]:
        from hms.identity import service as identity  # function-level: identity imports us

        await identity.sync_department_name(session, row.id, row.name)
    changes = audit.diff(before, _snapshot(row, _DEPARTMENT_FIELDS))
    await audit.record(session, AuditAction.UPDATE, "department", row.id, changes=changes)
    await session.refresh(row)
    return DepartmentRead.model_validate(row)


async def delete_department(session: AsyncSession, department_id: uuid.UUID) -> None:
    """Delete a department nobody references (audited ``delete``).

    Raises:
        NotFound (404): no such department.
        DepartmentInUse (409, ``department_in_use``): users, services or appointments still
            reference it (their foreign keys refuse the delete); reassign them first.
    """
    repo = _departments(session)
    row = await repo.get(department_id)
    if row is None:
        raise NotFound("Department not found")
    before = _snapshot(row, _DEPARTMENT_FIELDS)
    try:
        async with session.begin_nested():
            await repo.delete(row)
    except IntegrityError as exc:
        raise DepartmentInUse(
            "The department is still referenced by users, services or appointments "
            "(rule department_in_use); reassign them before deleting it") from exc
    await audit.record(session, AuditAction.DELETE, "department", department_id,
                       changes={"before": before})


# -- insurance providers ---------------------------------------------------------------------


async def create_insurance_provider(session: AsyncSession, data: InsuranceProviderCreate
                                    ) -> InsuranceProviderRead:
    """Create an insurance provider (audited ``create``).

    Raises:
        NameTaken (409, ``name_taken``): a provider already has this name (case-insensitive).
    """
    repo = _providers(session)
    if await repo.by_name(data.name) is not None:
        raise NameTaken(f"An insurance provider named {data.name!r} already exists")
    values = data.model_dump()
    if values.get("email"):
        values["email"] = str(values["email"]).lower()
    row = InsuranceProvider(**values)
    try:
        async with session.begin_nested():
            await repo.add(row)
    except IntegrityError as exc:
        raise NameTaken(f"An insurance provider named {data.name!r} already exists") from exc
    await audit.record(session, AuditAction.CREATE, "insurance_provider", row.id,
                       changes={"after": _snapshot(row, _PROVIDER_FIELDS)})
    return InsuranceProviderRead.model_validate(row)


async def list_insurance_providers(session: AsyncSession, page: PageParams, *,
                                   q: str | None = None, sort: str | None = None
                                   ) -> Page[InsuranceProviderRead]:
    """A page of insurance providers; ``q`` matches part of the name (case-insensitive);
    ``sort`` keys :class:`InsuranceProviderSort` (default by name).

    Raises:
        ValidationFailed (422): an unknown sort key.
    """
    order = parse_sort(sort, InsuranceProviderSort, [("name", False)])
    rows, total = await _providers(session).list(
        offset=page.offset, limit=page.page_size, q=q, order=order)
    return Page[InsuranceProviderRead](
        items=[InsuranceProviderRead.model_validate(r) for r in rows], total=total,
        page=page.page, page_size=page.page_size)


async def get_insurance_provider(session: AsyncSession, provider_id: uuid.UUID
                                 ) -> InsuranceProviderRead:
    """An insurance provider by id.

    Raises:
        NotFound (404): no such provider.
    """
    row = await _providers(session).get(provider_id)
    if row is None:
        raise NotFound("Insurance provider not found")
    return InsuranceProviderRead.model_validate(row)


async def require_insurance_provider(session: AsyncSession, provider_id: uuid.UUID,
                                     field: str = "insurance_provider_id"
                                     ) -> InsuranceProviderRead:
    """The insurance provider a request refers to, for validating other modules' input.

    Raises:
        UnknownInsuranceProvider (422, ``insurance_provider_not_found``): no such provider;
            ``errors`` names ``field``.
    """
    row = await _providers(session).get(provider_id)
    if row is None:
        raise UnknownInsuranceProvider(
            "The insurance provider does not exist",
            errors=[{"field": field, "in": "body", "message": "unknown insurance provider",
                     "type": "insurance_provider_not_found"}])
    return InsuranceProviderRead.model_validate(row)


async def insurance_providers_by_ids(session: AsyncSession, ids: Iterable[uuid.UUID | None]
                                     ) -> dict[uuid.UUID, InsuranceProviderRead]:
    """The insurance providers of ``ids`` (None and unknown ids skipped), in one query."""
    rows = await _providers(session).by_ids(i for i in ids if i is not None)
    return {r.id: InsuranceProviderRead.model_validate(r) for r in rows}


async def update_insurance_provider(session: AsyncSession, provider_id: uuid.UUID,
                                    data: InsuranceProviderUpdate) -> InsuranceProviderRead:
    """Change an insurance provider (partial; ``null`` clears an optional field; audited
    ``update`` with old/new values).

    Raises:
        NotFound (404): no such provider.
        NameTaken (409, ``name_taken``): another provider has the new name.
    """
    repo = _providers(session)
    row = await repo.get(provider_id)
    if row is None:
        raise NotFound("Insurance provider not found")
    before = _snapshot(row, _PROVIDER_FIELDS)
    fields = data.model_dump(exclude_unset=True)
    if "name" in fields and fields["name"] is None:
        del fields["name"]  # the name is required: null leaves it as it is
    if "name" in fields and fields["name"].lower() != row.name.lower():
        other = await repo.by_name(fields["name"])
        if other is not None and other.id != row.id:
            raise NameTaken(f"An insurance provider named {fields['name']!r} already exists")
    if fields.get("email"):
        fields["email"] = str(fields["email"]).lower()
    for key, value in fields.items():
        setattr(row, key, value)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise NameTaken("Another insurance provider already has this name") from exc
    changes = audit.diff(before, _snapshot(row, _PROVIDER_FIELDS))
    await audit.record(session, AuditAction.UPDATE, "insurance_provider", row.id,
                       changes=changes)
    await session.refresh(row)
    return InsuranceProviderRead.model_validate(row)


async def delete_insurance_provider(session: AsyncSession, provider_id: uuid.UUID) -> None:
    """Delete an insurance provider no patient references (audited ``delete``).

    Raises:
        NotFound (404): no such provider.
        InsuranceProviderInUse (409, ``insurance_provider_in_use``): patients still
            reference it (their foreign key refuses the delete).
    """
    repo = _providers(session)
    row = await repo.get(provider_id)
    if row is None:
        raise NotFound("Insurance provider not found")
    before = _snapshot(row, _PROVIDER_FIELDS)
    try:
        async with session.begin_nested():
            await repo.delete(row)
    except IntegrityError as exc:
        raise InsuranceProviderInUse(
            "Patients still reference this insurance provider (rule "
            "insurance_provider_in_use); change their coverage before deleting it") from exc
    await audit.record(session, AuditAction.DELETE, "insurance_provider", provider_id,
                       changes={"before": before})
