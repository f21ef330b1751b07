"""Builders for medical records (synthetic data only).

Every patient registered through ``patients.service.create_patient`` (``make_patient``)
already has an empty record; :func:`set_medical_record` fills it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hms.patients import service
from hms.patients.schemas import MedicalRecordRead, MedicalRecordUpdate
from tests.patients.factories import make_patient


async def set_medical_record(session: AsyncSession, patient_id: uuid.UUID,
                             **fields: Any) -> MedicalRecordRead:
    """Set fields of the patient's medical record (e.g. ``allergies="Penicillin"``) and
    commit to the test's savepoint."""
    current = await service.get_medical_record(session, patient_id)
    record = await service.update_medical_record(
        session, current.id, MedicalRecordUpdate.model_validate(fields),
        if_match=current.version, updated_by=None)
    await session.commit()
    return record


async def make_patient_with_record(session: AsyncSession, *, allergies: str | None = None,
                                   **patient: Any) -> tuple[Any, MedicalRecordRead]:
    """A new patient (``make_patient`` overrides) and its medical record, with
    ``allergies`` set when given."""
    p = await make_patient(session, **patient)
    record = (await set_medical_record(session, p.id, allergies=allergies) if allergies
              else await service.get_medical_record(session, p.id))
    return p, record


__all__ = ["make_patient_with_record", "set_medical_record"]
