"""HTTP routes of the organization module (seed 004 section 9): ``/api/v1/departments`` and
``/api/v1/insurance-providers``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from hms.core.auth import CurrentPrincipal, DbSession, Principal, require
from hms.core.pagination import Page, Pagination
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES
from hms.organization import service
from hms.organization.schemas import (
    DepartmentCreate,
    DepartmentRead,
    DepartmentUpdate,
    InsuranceProviderCreate,
    InsuranceProviderRead,
    InsuranceProviderUpdate,
)

router = APIRouter(prefix="/api/v1")

ManageDepartments = Annotated[Principal, Depends(require(Perm.DEPARTMENT_MANAGE))]
ReadProviders = Annotated[Principal, Depends(require(Perm.INSURANCE_PROVIDER_READ))]
ManageProviders = Annotated[Principal, Depends(require(Perm.INSURANCE_PROVIDER_MANAGE))]

Search = Annotated[str | None, Query(max_length=100, description="Part of the name")]
Sort = Annotated[str | None, Query(max_length=100, pattern=r"^-?[a-z_]+(,-?[a-z_]+)*$",
                                   description="name, created_at, updated_at; -key desc")]


# -- departments (readable by every signed-in user: names are not sensitive) ----------------


@router.post("/departments", tags=["departments"], summary="Create a department",
             response_model=DepartmentRead, status_code=201, responses=PROBLEM_RESPONSES)
async def create_department(body: DepartmentCreate, _: ManageDepartments, session: DbSession,
                            response: Response) -> DepartmentRead:
    department = await service.create_department(session, body)
    response.headers["Location"] = f"/api/v1/departments/{department.id}"
    return department


@router.get("/departments", tags=["departments"], summary="List departments",
            response_model=Page[DepartmentRead], responses=PROBLEM_RESPONSES)
async def list_departments(_: CurrentPrincipal, session: DbSession, page: Pagination,
                           q: Search = None, name: Search = None, sort: Sort = None
                           ) -> Page[DepartmentRead]:
    return await service.list_departments(session, page, q=q or name, sort=sort)


@router.get("/departments/{id}", tags=["departments"], summary="Read a department",
            response_model=DepartmentRead, responses=PROBLEM_RESPONSES)
async def get_department(id: uuid.UUID, _: CurrentPrincipal, session: DbSession
                         ) -> DepartmentRead:
    return await service.get_department(session, id)


@router.put("/departments/{id}", tags=["departments"],
            summary="Update a department (partial); a new name reaches its users",
            response_model=DepartmentRead, responses=PROBLEM_RESPONSES)
async def update_department(id: uuid.UUID, body: DepartmentUpdate, _: ManageDepartments,
                            session: DbSession) -> DepartmentRead:
    return await service.update_department(session, id, body)


@router.delete("/departments/{id}", tags=["departments"],
               summary="Delete a department nobody references (409 department_in_use)",
               status_code=204, responses=PROBLEM_RESPONSES)
async def delete_department(id: uuid.UUID, _: ManageDepartments, session: DbSession) -> None:
    await service.delete_department(session, id)


# -- insurance providers ---------------------------------------------------------------------


@router.post("/insurance-providers", tags=["insurance-providers"],
             summary="Create an insurance provider", response_model=InsuranceProviderRead,
             status_code=201, responses=PROBLEM_RESPONSES)
async def create_insurance_provider(body: InsuranceProviderCreate, _: ManageProviders,
                                    session: DbSession, response: Response
                                    ) -> InsuranceProviderRead:
    provider = await service.create_insurance_provider(session, body)
    response.headers["Location"] = f"/api/v1/insurance-providers/{provider.id}"
    return provider


@router.get("/insurance-providers", tags=["insurance-providers"],
            summary="List insurance providers", response_model=Page[InsuranceProviderRead],
            responses=PROBLEM_RESPONSES)
async def list_insurance_providers(_: ReadProviders, session: DbSession, page: Pagination,
                                   q: Search = None, name: Search = None, sort: Sort = None
                                   ) -> Page[InsuranceProviderRead]:
    return await service.list_insurance_providers(session, page, q=q or name, sort=sort)


@router.get("/insurance-providers/{id}", tags=["insurance-providers"],
            summary="Read an insurance provider", response_model=InsuranceProviderRead,
            responses=PROBLEM_RESPONSES)
async def get_insurance_provider(id: uuid.UUID, _: ReadProviders, session: DbSession
                                 ) -> InsuranceProviderRead:
    return await service.get_insurance_provider(session, id)


@router.put("/insurance-providers/{id}", tags=["insurance-providers"],
            summary="Update an insurance provider (partial)",
            response_model=InsuranceProviderRead, responses=PROBLEM_RESPONSES)
async def update_insurance_provider(id: uuid.UUID, body: InsuranceProviderUpdate,
                                    _: ManageProviders, session: DbSession
                                    ) -> InsuranceProviderRead:
    return await service.update_insurance_provider(session, id, body)


@router.delete("/insurance-providers/{id}", tags=["insurance-providers"],
               summary="Delete an insurance provider no patient references "
                       "(409 insurance_provider_in_use)",
               status_code=204, responses=PROBLEM_RESPONSES)
async def delete_insurance_provider(id: uuid.UUID, _: ManageProviders, session: DbSession
                                    ) -> None:
    await service.delete_insurance_provider(session, id)
