"""SQL on the lab module's table (``lab_tests``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from hms.lab.models import LabTest


@dataclass(frozen=True, slots=True)
class LabTestFilters:
    """Filters of ``GET /lab-tests``; every given filter must hold."""

    statuses: tuple[str, ...] = ()
    patient_id: uuid.UUID | None = None
    consultation_id: uuid.UUID | None = None
    visit_id: uuid.UUID | None = None
    ordered_by_doctor_id: uuid.UUID | None = None
    test_type: str | None = None
    text: str | None = None
    ordered_from: datetime | None = None
    ordered_to: datetime | None = None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class LabTestRepository:
    """Lab tests."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, lab_test_id: uuid.UUID, *, for_update: bool = False) -> LabTest | None:
        """Lab test by id; ``for_update`` locks the row (PostgreSQL; SQLite serialises
        writers) so two status changes cannot both pass the same check."""
        if not for_update:
            return await self.session.get(LabTest, lab_test_id)
        stmt = select(LabTest).where(LabTest.id == lab_test_id).with_for_update()
        # populate_existing: a row already in the identity map is refreshed from the locked
        # read, so the status checked is the committed one.
        return (await self.session.scalars(
            stmt.execution_options(populate_existing=True))).first()

    async def add_all(self, rows: Sequence[LabTest]) -> None:
        """Insert rows (one flush)."""
        self.session.add_all(rows)
        await self.session.flush()

    async def for_consultations(self, consultation_ids: Sequence[uuid.UUID]) -> list[LabTest]:
        """Every lab test of these consultations in one query, oldest order first."""
        if not consultation_ids:
            return []
        stmt = (select(LabTest).where(LabTest.consultation_id.in_(list(consultation_ids)))
                .order_by(LabTest.ordered_date, LabTest.created_at, LabTest.id))
        return list(await self.session.scalars(stmt))

    def _filtered(self, f: LabTestFilters) -> Select[Any]:
        stmt = select(LabTest)
        if f.statuses:
            stmt = stmt.where(LabTest.status.in_(f.statuses))
        if f.patient_id:
            stmt = stmt.where(LabTest.patient_id == f.patient_id)
        if f.consultation_id:
            stmt = stmt.where(LabTest.consultation_id == f.consultation_id)
        if f.visit_id:
            stmt = stmt.where(LabTest.visit_id == f.visit_id)
        if f.ordered_by_doctor_id:
            stmt = stmt.where(LabTest.ordered_by_doctor_id == f.ordered_by_doctor_id)
        if f.test_type:
            stmt = stmt.where(func.lower(LabTest.test_type) == f.test_type.lower())
        if f.text:
            stmt = stmt.where(func.lower(LabTest.test_name).like(
                f"%{_escape_like(f.text.lower())}%", escape="\\"))
        if f.ordered_from:
            stmt = stmt.where(LabTest.ordered_date >= f.ordered_from)
        if f.ordered_to:
            stmt = stmt.where(LabTest.ordered_date < f.ordered_to)
        return stmt

    async def page(self, f: LabTestFilters, *, offset: int, limit: int,
                   order: list[tuple[str, bool]]) -> tuple[list[LabTest], int]:
        """A page of lab tests and the total. ``order`` is ``[(column, descending)]``."""
        stmt = self._filtered(f)
        total = await self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        clauses: list[Any] = []
        for column, descending in order:
            col = getattr(LabTest, column)
            clauses.append(col.desc() if descending else col.asc())
        clauses.append(LabTest.id)
        rows = await self.session.scalars(stmt.order_by(*clauses).offset(offset).limit(limit))
        return list(rows), int(total or 0)
