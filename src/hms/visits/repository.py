"""SQL on the visits module's tables."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from hms.visits.models import Visit


@dataclass(frozen=True, slots=True)
class VisitFilters:
    """Filters of ``GET /visits``; every given filter must hold."""

    statuses: tuple[str, ...] = ()
    patient_id: uuid.UUID | None = None
    attending_physician_id: uuid.UUID | None = None
    department: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None


class VisitRepository:
    """Visits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, visit_id: uuid.UUID, *, for_update: bool = False) -> Visit | None:
        """Visit by id (optionally locking the row on PostgreSQL)."""
        if for_update:
            stmt = select(Visit).where(Visit.id == visit_id).with_for_update()
            return (await self.session.scalars(stmt)).first()
        return await self.session.get(Visit, visit_id)

    async def add(self, visit: Visit) -> Visit:
        """Insert a visit."""
        self.session.add(visit)
        await self.session.flush()
        return visit

    def _filtered(self, f: VisitFilters) -> Select[Visit]:
        stmt = select(Visit)
        if f.statuses:
            stmt = stmt.where(Visit.status.in_(f.statuses))
        if f.patient_id:
            stmt = stmt.where(Visit.patient_id == f.patient_id)
        if f.attending_physician_id:
            stmt = stmt.where(Visit.attending_physician_id == f.attending_physician_id)
        if f.department:
            stmt = stmt.where(func.lower(Visit.department) == f.department.lower())
        if f.started_from:
            stmt = stmt.where(Visit.started_at >= f.started_from)
        if f.started_to:
            stmt = stmt.where(Visit.started_at < f.started_to)
        return stmt

    async def page(
        self, f: VisitFilters, *, offset: int, limit: int, open_first: bool,
        order: list[tuple[str, bool]],
    ) -> tuple[list[Visit], int]:
        """A page of visits and the total. ``order`` is ``[(column, descending)]``;
        ``open_first`` puts open, then in-progress visits before the rest."""
        stmt = self._filtered(f)
        total = await self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        clauses: list[Any] = []
        if open_first:
            clauses.append(case((Visit.status == "open", 0),
                                (Visit.status == "in_progress", 1), else_=2))
        for column, descending in order:
            col = getattr(Visit, column)
            clauses.append(col.desc() if descending else col.asc())
        clauses.append(Visit.id)
        rows = await self.session.scalars(stmt.order_by(*clauses).offset(offset).limit(limit))
        return list(rows), int(total or 0)

    async def for_patient(self, patient_id: uuid.UUID) -> list[Visit]:
        """Every visit of a patient, newest first."""
        stmt = (select(Visit).where(Visit.patient_id == patient_id)
                .order_by(Visit.started_at.desc(), Visit.id))
        return list(await self.session.scalars(stmt))

    async def by_source(self, source_system: str, source_id: str) -> Visit | None:
        """Visit imported from ``source_system``/``source_id``."""
        stmt = select(Visit).where(Visit.source_system == source_system,
                                   Visit.source_id == source_id)
        return (await self.session.scalars(stmt)).first()
