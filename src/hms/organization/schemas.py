"""Pydantic schemas of the organization module (seed 004 section 6: Department,
InsuranceProvider)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, StringConstraints

#: One line of printable text (no control characters).
_LINE = r"^[^\x00-\x1f\x7f]+$"
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                        pattern=_LINE)]
ProviderName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                max_length=200, pattern=_LINE)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=32,
                                         pattern=r"^\+?[0-9 ().-]{3,32}$")]
Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=_LINE)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Policy = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]


class DepartmentSort(StrEnum):
    """Sort keys of ``GET /departments``."""

    NAME = "name"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


class InsuranceProviderSort(StrEnum):
    """Sort keys of ``GET /insurance-providers``."""

    NAME = "name"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


class DepartmentCreate(BaseModel):
    """Body of ``POST /departments``: ``name`` unique (case-insensitive)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Name
    description: Description | None = None


class DepartmentUpdate(BaseModel):
    """Body of ``PUT /departments/{id}``; every field optional (``description: null``
    clears it). A new name is copied to the department's users (row scoping uses it)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Name | None = None
    description: Description | None = None


class DepartmentRead(BaseModel):
    """A department as returned by the API and by the service functions."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime


class InsuranceProviderCreate(BaseModel):
    """Body of ``POST /insurance-providers``: ``name`` unique (case-insensitive)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: ProviderName
    contact_person: Line | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    address: Address | None = None
    coverage_policy: Policy | None = None


class InsuranceProviderUpdate(BaseModel):
    """Body of ``PUT /insurance-providers/{id}``; every field optional, ``null`` clears an
    optional one."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: ProviderName | None = None
    contact_person: Line | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    address: Address | None = None
    coverage_policy: Policy | None = None


class InsuranceProviderRead(BaseModel):
    """An insurance provider as returned by the API and by the service functions."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    contact_person: str | None
    phone: str | None
    email: str | None
    address: str | None
    coverage_policy: str | None
    created_at: datetime
    updated_at: datetime
