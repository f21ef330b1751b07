"""Bulk loading of visits for tools (``hms generate``), exposed through
:mod:`hms.visits.service`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from hms.db.bulk import insert_rows
from hms.visits.models import Visit

VISITS = cast(Table, Visit.__table__)


async def bulk_load(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert already-built visits (``patient_visits``).

    Args:
        rows: column values (``id``, ``patient_id``, ``status``, ``visit_type``,
            ``started_at`` required; aware UTC datetimes); ``created_at``/``updated_at``
            default to ``started_at`` and ``version`` to 1. Every row needs the same keys.

    Returns:
        The number of visits inserted.
    """
    out = []
    for row in rows:
        values = dict(row)
        values.setdefault("created_at", values["started_at"])
        values.setdefault("updated_at", values.get("ended_at") or values["started_at"])
        values.setdefault("version", 1)
        out.append(values)
    return await insert_rows(session, VISITS, out)
