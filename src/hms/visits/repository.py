"""SQL on the visits module's tables."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from hms.core.permissions import Scope
from hms.core.scoping import RowScope
from hms.db.counting import count_matches
from hms.visits.models import Visit


def visible(scope: RowScope | None) -> ColumnElement[bool] | None:
    """The WHERE clause of the visits ``scope`` reaches, or None for every visit.

    ``department``: the visit's department equals the actor's (case-insensitive);
    ``own``: the actor is the visit's attending physician or opened it. Several scopes
    combine with OR; none (or ``department`` without a department) reaches nothing.

    Source: HMS seed 003 section 4.3 (``resource:action[:scope]``).
    """
    if scope is None or scope.unrestricted:
        return None
    clauses: list[ColumnElement[bool]] = []
    department = scope.department_key
    if department is not None:
        # Both sides folded by the database, so SQLite (ASCII-only lower()) and PostgreSQL
        # each compare consistently.
        clauses.append(func.lower(Visit.department) == func.lower(literal(department)))
    if Scope.OWN in scope.levels:
        clauses.append(or_(Visit.attending_physician_id == scope.user_id,
                           Visit.opened_by == scope.user_id))
    return or_(*clauses) if clauses else false()


def scoped(stmt: Select[Any], scope: RowScope | None) -> Select[Any]:
    """``stmt`` (selecting from ``patient_visits``) limited to the visits ``scope`` reaches."""
    clause = visible(scope)
    return stmt if clause is None else stmt.where(clause)


def patient_has_visible_visit(
    scope: RowScope, patient_id: SQLColumnExpression[uuid.UUID]
) -> ColumnElement[bool] | None:
    """Correlated ``EXISTS`` (a visit of that patient within ``scope``), or None for every
    patient. Lets the patients module scope its queries without reading this table."""
    clause = visible(scope)
    if clause is None:
        return None
    return exists(select(Visit.id).where(Visit.patient_id == patient_id, clause))


def visit_is_visible(
    scope: RowScope, visit_id: SQLColumnExpression[uuid.UUID]
) -> ColumnElement[bool] | None:
    """Correlated ``EXISTS`` (that visit is within ``scope``), or None for every visit.
    Lets modules whose rows hang off a visit (documents) scope their queries."""
    clause = visible(scope)
    if clause is None:
        return None
    return exists(select(Visit.id).where(Visit.id == visit_id, clause))


@dataclass(frozen=True, slots=True)
class VisitFilters:
    """Filters of ``GET /visits``; every given filter must hold."""

    statuses: tuple[str, ...] = ()
    patient_id: uuid.UUID | None = None
    attending_physician_id: uuid.UUID | None = None
    department: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None


#: Visit lists count matches up to this many (``Page.total_exact`` false beyond).
COUNT_CAP = 200


class VisitRepository:
    """Visits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, visit_id: uuid.UUID, *, for_update: bool = False,
                  scope: RowScope | None = None) -> Visit | None:
        """Visit by id (optionally locking the row on PostgreSQL); None when missing or
        outside ``scope`` (the scope is part of the query)."""
        clause = visible(scope)
        if not for_update and clause is None:
            return await self.session.get(Visit, visit_id)
        stmt = scoped(select(Visit).where(Visit.id == visit_id), scope)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def add(self, visit: Visit) -> Visit:
        """Insert a visit."""
        self.session.add(visit)
        await self.session.flush()
        return visit

    def _filtered(self, f: VisitFilters, scope: RowScope | None) -> Select[Visit]:
        stmt = scoped(select(Visit), scope)
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
        order: list[tuple[str, bool]], scope: RowScope | None = None,
    ) -> tuple[list[Visit], int, bool]:
        """A page of visits within ``scope``, the total and whether it is exact. ``order``
        is ``[(column, descending)]``; ``open_first`` puts open, then in-progress visits
        before the rest.

        The total is counted up to :data:`COUNT_CAP` (then a lower bound): counting every
        open visit of a large department reads each of them (0.1 s at a million patients)
        while the page itself comes from the ``(status, started_at)`` index in 0.1 ms.
        """
        stmt = self._filtered(f, scope)
        clauses: list[Any] = []
        if open_first and len(set(f.statuses or ())) != 1:  # one status: nothing to rank
            clauses.append(case((Visit.status == "open", 0),
                                (Visit.status == "in_progress", 1), else_=2))
        for column, descending in order:
            col = getattr(Visit, column)
            clauses.append(col.desc() if descending else col.asc())
        clauses.append(Visit.id)
        rows = list(await self.session.scalars(
            stmt.order_by(*clauses).offset(offset).limit(limit)))
        if offset == 0 and len(rows) < limit:  # the whole result is on this page
            return rows, len(rows), True
        total, exact = await count_matches(self.session, stmt.with_only_columns(Visit.id),
                                           cap=COUNT_CAP)
        return rows, total, exact

    async def for_patient(self, patient_id: uuid.UUID, *,
                          scope: RowScope | None = None) -> list[Visit]:
        """Every visit of a patient within ``scope``, newest first."""
        stmt = (scoped(select(Visit).where(Visit.patient_id == patient_id), scope)
                .order_by(Visit.started_at.desc(), Visit.id))
        return list(await self.session.scalars(stmt))

    async def by_source(self, source_system: str, source_id: str) -> Visit | None:
        """Visit imported from ``source_system``/``source_id``."""
        stmt = select(Visit).where(Visit.source_system == source_system,
                                   Visit.source_id == source_id)
        return (await self.session.scalars(stmt)).first()
