"""Builders for visits."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from hms.visits.models import Visit
from hms.visits.schemas import VisitRead
from tests.patients.factories import make_patient


async def make_visit(session: AsyncSession, patient_id: uuid.UUID | None = None,
                     **overrides: object) -> VisitRead:
    """Insert a visit (status open unless overridden); creates a patient if none given."""
    if patient_id is None:
        patient_id = (await make_patient(session)).id
    values: dict[str, object] = {"patient_id": patient_id, "status": "open",
                                 "visit_type": "outpatient"}
    values.update(overrides)
    row = Visit(**values)
    session.add(row)
    await session.flush()
    await session.commit()
    return VisitRead.model_validate(row)
