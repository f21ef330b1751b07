"""Vital signs and diagnoses shared by every seed (forms, FHIR imports, exports), and the
consultation look-ups other modules call (seed 004 contract)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hms.clinical.models import Diagnosis, VitalSigns
from hms.clinical.repository import (
    ClinicalRepository,
    ConsultationRepository,
)
from hms.clinical.schemas import (
    ConsultationRead,
    DiagnosisImport,
    DiagnosisRead,
    VitalSignsInput,
    VitalSignsRead,
)
from hms.core.errors import NotFound
from hms.db.base import utcnow

_VITAL_FIELDS = tuple(VitalSignsInput.model_fields)


def body_mass_index(weight_kg: float | None, height_cm: float | None) -> float | None:
    """BMI in kg/m², rounded to one decimal; None unless both inputs are given.

    Source: WHO, "Body mass index - BMI" (weight in kilograms divided by the square of height
    in metres).
    """
    if weight_kg is None or height_cm is None or height_cm <= 0:
        return None
    metres = height_cm / 100.0
    return round(weight_kg / (metres * metres), 1)


def _apply(row: VitalSigns, data: VitalSignsInput) -> None:
    for name in _VITAL_FIELDS:
        setattr(row, name, getattr(data, name))
    row.bmi = body_mass_index(data.weight_kg, data.height_cm)


async def record_vital_signs(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    visit_id: uuid.UUID | None,
    data: VitalSignsInput,
    recorded_by: uuid.UUID | None,
    recorded_at: datetime | None = None,
) -> VitalSignsRead:
    """Store one set of vital signs; BMI is derived when weight and height are given.

    The caller audits (vitals are recorded as part of a form or an import).
    """
    row = VitalSigns(patient_id=patient_id, visit_id=visit_id, recorded_by=recorded_by,
                     recorded_at=recorded_at or utcnow())
    _apply(row, data)
    await ClinicalRepository(session).add(row)
    return VitalSignsRead.model_validate(row)


async def update_vital_signs(
    session: AsyncSession, vital_signs_id: uuid.UUID, data: VitalSignsInput
) -> VitalSignsRead:
    """Replace the values of a stored set of vital signs (BMI re-derived).

    Raises:
        NotFound (404): no such row.
    """
    row = await ClinicalRepository(session).get_vitals(vital_signs_id)
    if row is None:
        raise NotFound("Vital signs not found")
    _apply(row, data)
    await session.flush()
    return VitalSignsRead.model_validate(row)


async def get_vital_signs(session: AsyncSession, vital_signs_id: uuid.UUID) -> VitalSignsRead:
    """A stored set of vital signs.

    Raises:
        NotFound (404): no such row.
    """
    row = await ClinicalRepository(session).get_vitals(vital_signs_id)
    if row is None:
        raise NotFound("Vital signs not found")
    return VitalSignsRead.model_validate(row)


async def record_diagnosis(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    visit_id: uuid.UUID | None,
    data: DiagnosisImport,
    recorded_by: uuid.UUID | None,
) -> DiagnosisRead:
    """Store a diagnosis [Condition] (the caller audits)."""
    row = Diagnosis(patient_id=patient_id, visit_id=visit_id, recorded_by=recorded_by,
                    recorded_at=utcnow(), **data.model_dump())
    await ClinicalRepository(session).add(row)
    return DiagnosisRead.model_validate(row)


async def import_vital_signs(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    visit_id: uuid.UUID | None,
    data: VitalSignsInput,
    recorded_at: datetime,
    source_system: str,
    source_id: str,
) -> VitalSignsRead | None:
    """Import one set of vital signs; None when this source id was imported before."""
    repo = ClinicalRepository(session)
    if await repo.source_exists(VitalSigns, source_system, source_id):
        return None
    row = VitalSigns(patient_id=patient_id, visit_id=visit_id, recorded_at=recorded_at,
                     source_system=source_system, source_id=source_id)
    _apply(row, data)
    await repo.add(row)
    return VitalSignsRead.model_validate(row)


async def import_diagnosis(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    visit_id: uuid.UUID | None,
    data: DiagnosisImport,
    source_system: str,
    source_id: str,
) -> DiagnosisRead | None:
    """Import one diagnosis; None when this source id was imported before."""
    repo = ClinicalRepository(session)
    if await repo.source_exists(Diagnosis, source_system, source_id):
        return None
    row = Diagnosis(patient_id=patient_id, visit_id=visit_id, source_system=source_system,
                    source_id=source_id, recorded_at=utcnow(), **data.model_dump())
    await repo.add(row)
    return DiagnosisRead.model_validate(row)


async def diagnoses_for_visits(
    session: AsyncSession, visit_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[DiagnosisRead]]:
    """Diagnoses grouped by visit id (one query), newest first."""
    out: dict[uuid.UUID, list[DiagnosisRead]] = {v: [] for v in visit_ids}
    for row in await ClinicalRepository(session).diagnoses_for_visits(visit_ids):
        if row.visit_id is not None:
            out.setdefault(row.visit_id, []).append(DiagnosisRead.model_validate(row))
    return out


async def vitals_for_visits(
    session: AsyncSession, visit_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[VitalSignsRead]]:
    """Vital signs grouped by visit id (one query), newest first."""
    out: dict[uuid.UUID, list[VitalSignsRead]] = {v: [] for v in visit_ids}
    for row in await ClinicalRepository(session).vitals_for_visits(visit_ids):
        if row.visit_id is not None:
            out.setdefault(row.visit_id, []).append(VitalSignsRead.model_validate(row))
    return out


async def clinical_record_of_patient(
    session: AsyncSession, patient_id: uuid.UUID
) -> tuple[list[VitalSignsRead], list[DiagnosisRead]]:
    """Every set of vital signs and every diagnosis of a patient (with or without a visit),
    oldest first, for the patient's data export. The caller audits."""
    vitals, diagnoses = await ClinicalRepository(session).for_patient(patient_id)
    return ([VitalSignsRead.model_validate(v) for v in vitals],
            [DiagnosisRead.model_validate(d) for d in diagnoses])


# --- seed 004: consultations (contract for other modules) --------------------------------

async def get_consultation(session: AsyncSession, consultation_id: uuid.UUID
                           ) -> ConsultationRead:
    """A consultation by id, for other modules (the caller audits its own read).

    Returns:
        ConsultationRead with ``status`` ("in_progress" | "completed"), ``completed_at``,
        ``appointment_id``, ``visit_id``, ``patient_id``, ``doctor_id``.

    Raises:
        NotFound (404): no such consultation.
    """
    row = await ConsultationRepository(session).get(consultation_id)
    if row is None:
        raise NotFound("Consultation not found")
    return ConsultationRead.model_validate(row)


async def consultation_for_appointment(session: AsyncSession, appointment_id: uuid.UUID
                                       ) -> ConsultationRead | None:
    """The consultation of an appointment, or None (the caller audits)."""
    row = await ConsultationRepository(session).for_appointment(appointment_id)
    return ConsultationRead.model_validate(row) if row is not None else None
