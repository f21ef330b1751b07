"""SQL on the clinical module's tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.clinical.models import Diagnosis, VitalSigns


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
