"""Builders for departments and insurance providers (synthetic data only)."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hms.organization import service
from hms.organization.schemas import (
    DepartmentCreate,
    DepartmentRead,
    InsuranceProviderCreate,
    InsuranceProviderRead,
)

_seq = itertools.count(1)


async def make_department(session: AsyncSession, name: str | None = None,
                          **overrides: Any) -> DepartmentRead:
    """Create a department (committed to the test's savepoint)."""
    data: dict[str, Any] = {"name": name or f"Department {next(_seq)}"}
    data.update(overrides)
    department = await service.create_department(session, DepartmentCreate.model_validate(data))
    await session.commit()
    return department


async def make_insurance_provider(session: AsyncSession, name: str | None = None,
                                  **overrides: Any) -> InsuranceProviderRead:
    """Create an insurance provider (committed to the test's savepoint)."""
    data: dict[str, Any] = {"name": name or f"Insurer {next(_seq)}",
                            "phone": "+20 2 1234 5678", "email": "claims@insurer.example"}
    data.update(overrides)
    provider = await service.create_insurance_provider(
        session, InsuranceProviderCreate.model_validate(data))
    await session.commit()
    return provider


__all__ = ["make_department", "make_insurance_provider"]
