"""Bulk loading of patients for tools (``hms generate``), exposed through
:mod:`hms.patients.service`. Values arrive as plaintext; the identifiers are encrypted by
their column type and blind-indexed with :func:`~hms.patients.models.search_token`, and
``name_search`` is folded as a registration folds it, so bulk-loaded patients are found and
read by the ordinary API."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hms.db.bulk import insert_rows
from hms.patients import validators as v
from hms.patients.models import (
    BLIND_INDEXES,
    MedicalRecord,
    Patient,
    PatientNumberCounter,
    search_token,
)
from hms.patients.repository import NameWordRepository

PATIENTS = cast(Table, Patient.__table__)
MEDICAL_RECORDS = cast(Table, MedicalRecord.__table__)


async def bulk_load(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert already-validated patients and one empty medical record each.

    Args:
        rows: plaintext column values of ``patients`` (``id``, ``patient_number``,
            ``full_name``, ``created_at`` required; identifiers such as ``national_id`` and
            ``mobile`` in clear). ``name_search``, the blind indexes, ``updated_at``,
            ``is_active`` and ``version`` are filled here. Every row needs the same keys.

    Returns:
        The number of patients inserted (as many medical records are inserted too).
    """
    patients: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for row in rows:
        values = dict(row)
        for column, (index_column, _, _) in BLIND_INDEXES.items():
            if column in values:
                plain = values[column]
                values[index_column] = search_token(column, plain) if plain else None
        values["name_search"] = v.fold_name(values["full_name"])[:255]
        values.setdefault("updated_at", values["created_at"])
        values.setdefault("is_active", True)
        values.setdefault("version", 1)
        patients.append(values)
        records.append({"id": uuid.uuid4(), "patient_id": values["id"],
                        "blood_type": values.get("blood_type"),
                        "created_at": values["created_at"], "updated_at": values["created_at"],
                        "version": 1})
    await insert_rows(session, PATIENTS, patients)
    await insert_rows(session, MEDICAL_RECORDS, records)
    await NameWordRepository(session).add(p["name_search"] for p in patients)
    return len(patients)


async def taken_national_ids(session: AsyncSession, national_ids: Iterable[str]) -> set[str]:
    """The national IDs among ``national_ids`` that a stored patient already has (one
    indexed query on the blind index)."""
    by_token = {search_token("national_id", nid): nid for nid in national_ids}
    if not by_token:
        return set()
    found = await session.scalars(select(Patient.national_id_bidx).where(
        Patient.national_id_bidx.in_(list(by_token))))
    return {by_token[token] for token in found if token is not None}


async def reserve_patient_numbers(session: AsyncSession,
                                  counts: Mapping[date, int]) -> dict[date, int]:
    """Reserve ``counts[day]`` consecutive patient-number sequences on each registration day
    (one atomic upsert of ``patient_number_counters``), so registrations through the API
    on those days continue after them.

    Returns:
        The first reserved sequence of each day (format with
        :func:`hms.patients.validators.format_patient_number`).
    """
    wanted = {f"{day:%Y%m%d}": n for day, n in counts.items() if n > 0}
    if not wanted:
        return {}
    dialect = (await session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    first: dict[date, int] = {}
    days = sorted(wanted)
    for start in range(0, len(days), 500):  # keeps SQLite under its parameter limit
        chunk = days[start:start + 500]
        stmt = insert(PatientNumberCounter).values(
            [{"day": d, "last_value": wanted[d]} for d in chunk])
        upsert = stmt.on_conflict_do_update(
            index_elements=[PatientNumberCounter.day],
            set_={"last_value": PatientNumberCounter.last_value + stmt.excluded.last_value},
        ).returning(PatientNumberCounter.day, PatientNumberCounter.last_value)
        for day, last in (await session.execute(upsert)).all():
            first[date(int(day[:4]), int(day[4:6]), int(day[6:]))] = last - wanted[day] + 1
    return first
