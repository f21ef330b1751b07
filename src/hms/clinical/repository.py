"""SQL on the clinical module's tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from hms.clinical.models import Consultation, Diagnosis, Prescription, VitalSigns
from hms.clinical.schemas import PRESCRIPTION_VALIDITY_DAYS


class ClinicalRepository:
    """Vital signs and diagnoses."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_vitals(self, vital_signs_id: uuid.UUID) -> VitalSigns | None:
        """Vital signs row by id."""
        return await self.session.get(VitalSigns, vital_signs_id)

    async def add(self, row: VitalSigns | Diagnosis) -> None:
        """Insert a row."""
        self.session.add(row)
        await self.session.flush()

    async def source_exists(self, model: type[VitalSigns] | type[Diagnosis],
                            source_system: str, source_id: str) -> bool:
        """True when a row with this source identifier exists (idempotent import)."""
        stmt = select(model.id).where(model.source_system == source_system,
                                      model.source_id == source_id)
        return (await self.session.scalar(stmt)) is not None

    async def diagnoses_for_visits(self, visit_ids: Sequence[uuid.UUID]) -> list[Diagnosis]:
        """Diagnoses of the given visits, newest first."""
        if not visit_ids:
            return []
        stmt = (select(Diagnosis).where(Diagnosis.visit_id.in_(visit_ids))
                .order_by(Diagnosis.recorded_at.desc()))
        return list(await self.session.scalars(stmt))

    async def vitals_for_visits(self, visit_ids: Sequence[uuid.UUID]) -> list[VitalSigns]:
        """Vital signs of the given visits, newest first."""
        if not visit_ids:
            return []
        stmt = (select(VitalSigns).where(VitalSigns.visit_id.in_(visit_ids))
                .order_by(VitalSigns.recorded_at.desc()))
        return list(await self.session.scalars(stmt))

    async def for_patient(self, patient_id: uuid.UUID) -> tuple[list[VitalSigns],
                                                                 list[Diagnosis]]:
        """Every vital-signs row and every diagnosis of a patient, oldest first (two
        indexed queries)."""
        vitals = await self.session.scalars(
            select(VitalSigns).where(VitalSigns.patient_id == patient_id)
            .order_by(VitalSigns.recorded_at, VitalSigns.id))
        diagnoses = await self.session.scalars(
            select(Diagnosis).where(Diagnosis.patient_id == patient_id)
            .order_by(Diagnosis.recorded_at, Diagnosis.id))
        return list(vitals), list(diagnoses)


# --- seed 004: vital-signs listing, consultations, prescriptions -------------------------

@dataclass(frozen=True, slots=True)
class VitalsFilters:
    """Filters of ``GET /vital-signs``; every given filter must hold."""

    patient_id: uuid.UUID | None = None
    visit_id: uuid.UUID | None = None
    appointment_id: uuid.UUID | None = None
    recorded_by: uuid.UUID | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConsultationFilters:
    """Filters of ``GET /consultations``."""

    patient_id: uuid.UUID | None = None
    doctor_id: uuid.UUID | None = None
    appointment_id: uuid.UUID | None = None
    visit_id: uuid.UUID | None = None
    status: str | None = None
    follow_up_required: bool | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    q: str | None = None


@dataclass(frozen=True, slots=True)
class PrescriptionFilters:
    """Filters of ``GET /prescriptions``. With ``valid_on``: ``valid`` true keeps the
    prescriptions active and issued within the 30 days before that date (inclusive),
    false the others."""

    patient_id: uuid.UUID | None = None
    consultation_id: uuid.UUID | None = None
    doctor_id: uuid.UUID | None = None
    is_active: bool | None = None
    valid_on: date | None = None
    valid: bool = True
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def _page(session: AsyncSession, stmt: Select[Any], model: Any,
                order: list[tuple[str, bool]], offset: int, limit: int
                ) -> tuple[list[Any], int]:
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    clauses: list[Any] = []
    for column, descending in order:
        col = getattr(model, column)
        clauses.append(col.desc() if descending else col.asc())
    clauses.append(model.id)
    rows = await session.scalars(stmt.order_by(*clauses).offset(offset).limit(limit))
    return list(rows), int(total or 0)


class VitalsRepository:
    """Vital signs (seed 004 route)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def exists_for(self, appointment_id: uuid.UUID | None,
                         visit_id: uuid.UUID | None) -> bool:
        """True when a set of vital signs is recorded for the appointment or its visit."""
        clauses = []
        if appointment_id is not None:
            clauses.append(VitalSigns.appointment_id == appointment_id)
        if visit_id is not None:
            clauses.append(VitalSigns.visit_id == visit_id)
        if not clauses:
            return False
        stmt = select(VitalSigns.id).where(or_(*clauses)).limit(1)
        return (await self.session.scalar(stmt)) is not None

    async def page(self, f: VitalsFilters, *, offset: int, limit: int,
                   order: list[tuple[str, bool]]) -> tuple[list[VitalSigns], int]:
        """A page of vital signs and the total."""
        stmt = select(VitalSigns)
        if f.patient_id:
            stmt = stmt.where(VitalSigns.patient_id == f.patient_id)
        if f.visit_id:
            stmt = stmt.where(VitalSigns.visit_id == f.visit_id)
        if f.appointment_id:
            stmt = stmt.where(VitalSigns.appointment_id == f.appointment_id)
        if f.recorded_by:
            stmt = stmt.where(VitalSigns.recorded_by == f.recorded_by)
        if f.recorded_from:
            stmt = stmt.where(VitalSigns.recorded_at >= f.recorded_from)
        if f.recorded_to:
            stmt = stmt.where(VitalSigns.recorded_at < f.recorded_to)
        return await _page(self.session, stmt, VitalSigns, order, offset, limit)


class ConsultationRepository:
    """Consultations and prescriptions."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, consultation_id: uuid.UUID, *,
                  for_update: bool = False) -> Consultation | None:
        """Consultation by id (optionally locking the row on PostgreSQL)."""
        if not for_update:
            return await self.session.get(Consultation, consultation_id)
        stmt = select(Consultation).where(Consultation.id == consultation_id).with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def for_appointment(self, appointment_id: uuid.UUID) -> Consultation | None:
        """The consultation of an appointment, if any."""
        stmt = select(Consultation).where(Consultation.appointment_id == appointment_id)
        return (await self.session.scalars(stmt)).first()

    async def add(self, row: Consultation | Prescription) -> None:
        """Insert a row."""
        self.session.add(row)
        await self.session.flush()

    async def add_all(self, rows: Sequence[Consultation | Prescription]) -> None:
        """Insert rows in one flush."""
        self.session.add_all(rows)
        await self.session.flush()

    async def page(self, f: ConsultationFilters, *, offset: int, limit: int,
                   order: list[tuple[str, bool]]) -> tuple[list[Consultation], int]:
        """A page of consultations and the total."""
        stmt = select(Consultation)
        if f.patient_id:
            stmt = stmt.where(Consultation.patient_id == f.patient_id)
        if f.doctor_id:
            stmt = stmt.where(Consultation.doctor_id == f.doctor_id)
        if f.appointment_id:
            stmt = stmt.where(Consultation.appointment_id == f.appointment_id)
        if f.visit_id:
            stmt = stmt.where(Consultation.visit_id == f.visit_id)
        if f.status:
            stmt = stmt.where(Consultation.status == f.status)
        if f.follow_up_required is not None:
            stmt = stmt.where(Consultation.follow_up_required == f.follow_up_required)
        if f.date_from:
            stmt = stmt.where(Consultation.consultation_date >= f.date_from)
        if f.date_to:
            stmt = stmt.where(Consultation.consultation_date < f.date_to)
        if f.q:
            pattern = _like(f.q)
            stmt = stmt.where(or_(
                func.lower(Consultation.diagnosis).like(pattern, escape="\\"),
                func.lower(Consultation.chief_complaint).like(pattern, escape="\\")))
        return await _page(self.session, stmt, Consultation, order, offset, limit)

    async def get_prescription(self, prescription_id: uuid.UUID) -> Prescription | None:
        """Prescription by id."""
        return await self.session.get(Prescription, prescription_id)

    async def prescriptions_for(self, consultation_ids: Sequence[uuid.UUID]
                                ) -> list[Prescription]:
        """Prescriptions of the given consultations (one query), oldest first."""
        if not consultation_ids:
            return []
        stmt = (select(Prescription)
                .where(Prescription.consultation_id.in_(consultation_ids))
                .order_by(Prescription.created_at, Prescription.id))
        return list(await self.session.scalars(stmt))

    async def prescriptions_page(self, f: PrescriptionFilters, *, offset: int, limit: int,
                                 order: list[tuple[str, bool]]
                                 ) -> tuple[list[Prescription], int]:
        """A page of prescriptions and the total."""
        stmt = select(Prescription)
        if f.patient_id:
            stmt = stmt.where(Prescription.patient_id == f.patient_id)
        if f.consultation_id:
            stmt = stmt.where(Prescription.consultation_id == f.consultation_id)
        if f.doctor_id:
            stmt = stmt.where(Prescription.doctor_id == f.doctor_id)
        if f.is_active is not None:
            stmt = stmt.where(Prescription.is_active == f.is_active)
        if f.valid_on is not None:
            current = and_(
                Prescription.is_active.is_(True),
                Prescription.prescribed_date <= f.valid_on,
                Prescription.prescribed_date >= f.valid_on - timedelta(
                    days=PRESCRIPTION_VALIDITY_DAYS))
            stmt = stmt.where(current if f.valid else not_(current))
        if f.date_from:
            stmt = stmt.where(Prescription.prescribed_date >= f.date_from)
        if f.date_to:
            stmt = stmt.where(Prescription.prescribed_date <= f.date_to)
        if f.q:
            stmt = stmt.where(func.lower(Prescription.medication_name).like(
                _like(f.q), escape="\\"))
        return await _page(self.session, stmt, Prescription, order, offset, limit)
