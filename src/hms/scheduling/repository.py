"""SQL on the scheduling module's tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from hms.scheduling.models import Appointment

#: Statuses that do not hold the doctor's time (mirrors the PostgreSQL exclusion
#: constraint's WHERE clause in migration 0010).
NON_BLOCKING_STATUSES = ("cancelled", "no_show")


@dataclass(frozen=True, slots=True)
class AppointmentFilters:
    """Filters of ``GET /appointments``; every given filter must hold."""

    statuses: tuple[str, ...] = ()
    patient_id: uuid.UUID | None = None
    doctor_id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None
    appointment_types: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None


class AppointmentRepository:
    """Appointments."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, appointment_id: uuid.UUID, *, for_update: bool = False
                  ) -> Appointment | None:
        """Appointment by id; ``for_update`` locks the row on PostgreSQL (SQLite's
        BEGIN IMMEDIATE already serialises writers)."""
        if not for_update:
            return await self.session.get(Appointment, appointment_id)
        stmt = select(Appointment).where(Appointment.id == appointment_id).with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def add(self, appointment: Appointment) -> Appointment:
        """Insert an appointment (flushes)."""
        self.session.add(appointment)
        await self.session.flush()
        return appointment

    async def lock_doctor_schedule(self, doctor_id: uuid.UUID) -> None:
        """Serialise bookings of one doctor until the transaction ends (PostgreSQL
        ``pg_advisory_xact_lock`` keyed on the doctor id; a no-op on SQLite, whose
        BEGIN IMMEDIATE already serialises every writer).

        Without it, concurrent inserts that collide on the exclusion constraint can wait on
        each other and one is aborted as a deadlock instead of getting a clean 409; with it,
        the later booking's overlap check runs after the earlier one committed.
        """
        if (await self.session.connection()).dialect.name != "postgresql":
            return
        key = int.from_bytes(doctor_id.bytes[:8], "big", signed=True)
        await self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    async def overlapping(
        self, doctor_id: uuid.UUID, starts_at: datetime, ends_at: datetime, *,
        exclude_id: uuid.UUID | None = None,
    ) -> Appointment | None:
        """An appointment of ``doctor_id`` that holds time overlapping
        ``[starts_at, ends_at)`` (half-open: back-to-back slots do not overlap), or None."""
        stmt = select(Appointment).where(
            Appointment.doctor_id == doctor_id,
            Appointment.starts_at < ends_at,
            Appointment.ends_at > starts_at,
            Appointment.status.not_in(NON_BLOCKING_STATUSES),
        )
        if exclude_id is not None:
            stmt = stmt.where(Appointment.id != exclude_id)
        return (await self.session.scalars(stmt.order_by(Appointment.starts_at).limit(1))
                ).first()

    def _filtered(self, f: AppointmentFilters) -> Select[Any]:
        stmt = select(Appointment)
        if f.statuses:
            stmt = stmt.where(Appointment.status.in_(f.statuses))
        if f.patient_id:
            stmt = stmt.where(Appointment.patient_id == f.patient_id)
        if f.doctor_id:
            stmt = stmt.where(Appointment.doctor_id == f.doctor_id)
        if f.department_id:
            stmt = stmt.where(Appointment.department_id == f.department_id)
        if f.appointment_types:
            stmt = stmt.where(Appointment.appointment_type.in_(f.appointment_types))
        if f.date_from:
            stmt = stmt.where(Appointment.appointment_date >= f.date_from)
        if f.date_to:
            stmt = stmt.where(Appointment.appointment_date <= f.date_to)
        if f.q:
            pattern = "%" + f.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            stmt = stmt.where(
                func.lower(func.coalesce(Appointment.reason, "")).like(pattern, escape="\\")
                | func.lower(func.coalesce(Appointment.notes, "")).like(pattern, escape="\\"))
        return stmt

    async def page(
        self, f: AppointmentFilters, *, offset: int, limit: int,
        order: list[tuple[str, bool]],
    ) -> tuple[list[Appointment], int]:
        """A page of appointments and the total. ``order`` is ``[(column, descending)]``."""
        stmt = self._filtered(f)
        total = await self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        clauses: list[Any] = []
        for column, descending in order:
            col = getattr(Appointment, column)
            clauses.append(col.desc() if descending else col.asc())
        clauses.append(Appointment.id)
        rows = await self.session.scalars(stmt.order_by(*clauses).offset(offset).limit(limit))
        return list(rows), int(total or 0)

    async def for_patient(self, patient_id: uuid.UUID, *, limit: int) -> list[Appointment]:
        """The patient's appointments, newest first (by start time)."""
        stmt = (select(Appointment).where(Appointment.patient_id == patient_id)
                .order_by(Appointment.starts_at.desc(), Appointment.id).limit(limit))
        return list(await self.session.scalars(stmt))

    async def by_ids(self, ids: Iterable[uuid.UUID]) -> list[Appointment]:
        """Appointments of ``ids`` in one query (unknown ids skipped)."""
        wanted = list(set(ids))
        if not wanted:
            return []
        return list(await self.session.scalars(
            select(Appointment).where(Appointment.id.in_(wanted))))
