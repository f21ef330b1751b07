"""SQL on the organization module's tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.organization.models import Department, InsuranceProvider

M = TypeVar("M", Department, InsuranceProvider)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class NamedRepository(Generic[M]):
    """Departments or insurance providers (both: an id and a unique name)."""

    def __init__(self, session: AsyncSession, model: type[M]) -> None:
        self.session = session
        self.model: type[M] = model

    async def get(self, row_id: uuid.UUID) -> M | None:
        """Row by id."""
        return await self.session.get(self.model, row_id)

    async def by_ids(self, ids: Iterable[uuid.UUID]) -> list[M]:
        """Rows whose id is in ``ids`` (one query; empty input, no query)."""
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return []
        return list(await self.session.scalars(
            select(self.model).where(self.model.id.in_(wanted))))

    async def by_name(self, name: str) -> M | None:
        """Row whose name equals ``name`` case-insensitively."""
        stmt = select(self.model).where(func.lower(self.model.name) == name.strip().lower())
        return (await self.session.scalars(stmt)).first()

    async def list(self, *, offset: int, limit: int, q: str | None,
                   order: list[tuple[str, bool]]) -> tuple[list[M], int]:
        """A page of rows matching ``q`` (substring of the name, case-insensitive) in
        ``order`` (``(column, descending)`` pairs), and the total."""
        stmt = select(self.model)
        if q:
            stmt = stmt.where(func.lower(self.model.name).like(_like(q), escape="\\"))
        total = await self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        columns: list[Any] = []
        for key, descending in order:
            column = getattr(self.model, key)
            columns.append(column.desc() if descending else column.asc())
        columns.append(self.model.id)
        rows = await self.session.scalars(stmt.order_by(*columns).offset(offset).limit(limit))
        return list(rows), int(total or 0)

    async def add(self, row: M) -> M:
        """Insert a row (flushes: a duplicate name raises IntegrityError here)."""
        self.session.add(row)
        await self.session.flush()
        return row

    async def delete(self, row: M) -> None:
        """Delete a row (flushes: a referencing foreign key raises IntegrityError here)."""
        await self.session.delete(row)
        await self.session.flush()
