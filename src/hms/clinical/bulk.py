"""Bulk loading of vital signs for tools (``hms generate``), exposed through
:mod:`hms.clinical.service`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from hms.clinical.models import VitalSigns
from hms.db.bulk import insert_rows

VITAL_SIGNS = cast(Table, VitalSigns.__table__)


async def bulk_load_vital_signs(session: AsyncSession,
                                rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert already-validated vital signs (``vital_signs``); the BMI is computed here as
    :func:`record_vital_signs` computes it.

    Args:
        rows: column values (``id``, ``patient_id``, ``visit_id``, ``recorded_at`` and the
            measurements: Celsius, /min, mmHg, %, kg, cm). Every row needs the same keys.

    Returns:
        The number of rows inserted.
    """
    # Imported here: hms.clinical.service imports this module.
    from hms.clinical.service._base import body_mass_index

    out = []
    for row in rows:
        values = dict(row)
        values["bmi"] = body_mass_index(values.get("weight_kg"), values.get("height_cm"))
        values.setdefault("created_at", values["recorded_at"])
        values.setdefault("updated_at", values["recorded_at"])
        out.append(values)
    return await insert_rows(session, VITAL_SIGNS, out)
