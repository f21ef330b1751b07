"""SQL on the patients module's tables."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from hms.core.scoping import RowFilter
from hms.patients.models import (
    Patient,
    PatientNumberCounter,
    search_token,
    with_blind_indexes,
)
from hms.patients.validators import has_control_characters


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class SearchCriteria:
    """Normalised search filters; every given one must match (AND).

    Each entry of ``national_ids``, ``mobiles`` and ``passports`` must equal the patient's
    value (two different ones therefore match nobody); they are compared through the blind
    indexes, never as plaintext. ``name_tokens`` are folded (see
    ``validators.fold_name``); each must occur in the patient's folded name.
    ``patient_number_prefix`` matches the start of the MRN.
    """

    national_ids: tuple[str, ...] = ()
    mobiles: tuple[str, ...] = ()
    passports: tuple[str, ...] = ()
    patient_number: str | None = None
    patient_number_prefix: str | None = None
    name_tokens: tuple[str, ...] = ()
    name_folded: str | None = None
    #: ``q`` that is neither an ID nor a mobile: folded name words, or an exact MRN, or an
    #: exact passport number or phone number.
    name_or_patient_number: tuple[tuple[str, ...], str] | None = None


class PatientRepository:
    """Patients and their number counters."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, patient_id: uuid.UUID) -> Patient | None:
        """Patient by id."""
        return await self.session.get(Patient, patient_id)

    async def by_ref(self, ref: str, *, within: RowFilter | None = None) -> Patient | None:
        """Patient by UUID, patient number (MRN, case-insensitive) or national ID (through
        its blind index: one indexed equality per key); with ``within`` (the caller's row
        scope) only a patient inside it, decided in the same query."""
        ref = ref.strip()
        if not ref or len(ref) > 64 or has_control_characters(ref):
            return None  # cannot be a stored reference (and NUL would upset PostgreSQL)
        try:
            patient_id = uuid.UUID(ref)
        except ValueError:
            patient_id = None
        if patient_id is not None:
            if within is None:
                return await self.get(patient_id)
            stmt = select(Patient).where(Patient.id == patient_id, within(Patient.id))
            return (await self.session.scalars(stmt)).first()
        if ref.isascii() and ref.isdigit():
            # All digits: a national ID (a patient number always holds a letter), matched
            # by its blind index only, so the ID never travels to the database.
            key = Patient.national_id_bidx == search_token("national_id", ref)
        else:
            key = Patient.patient_number == ref.upper()
        stmt = select(Patient).where(key)
        if within is not None:
            stmt = stmt.where(within(Patient.id))
        return (await self.session.scalars(stmt.limit(1))).first()

    async def by_national_id(self, national_id: str) -> Patient | None:
        """Patient holding ``national_id`` (blind-index equality)."""
        stmt = select(Patient).where(
            Patient.national_id_bidx == search_token("national_id", national_id))
        return (await self.session.scalars(stmt)).first()

    async def by_patient_number(self, patient_number: str) -> Patient | None:
        """Patient holding ``patient_number``."""
        stmt = select(Patient).where(Patient.patient_number == patient_number)
        return (await self.session.scalars(stmt)).first()

    async def by_source(self, source_system: str, source_id: str) -> Patient | None:
        """Patient imported from ``source_system`` with identifier ``source_id``."""
        stmt = select(Patient).where(
            Patient.source_system == source_system, Patient.source_id == source_id
        )
        return (await self.session.scalars(stmt)).first()

    async def add(self, patient: Patient) -> Patient:
        """Insert a patient and flush (unique constraints fire here)."""
        self.session.add(patient)
        await self.session.flush()
        return patient

    async def update_if_version(
        self, patient_id: uuid.UUID, expected_version: int, values: dict[str, Any]
    ) -> bool:
        """Compare-and-set update: apply ``values`` and bump ``version`` only if the row still
        has ``expected_version``. Returns False when another writer got there first. Blind
        indexes of changed identifiers are recomputed in the same statement.

        The version test is part of the UPDATE's WHERE clause, so two writers holding the
        same version cannot both succeed (PostgreSQL re-checks the predicate after waiting on
        the row lock; SQLite serialises writers).
        """
        stmt = (
            update(Patient)
            .where(Patient.id == patient_id, Patient.version == expected_version)
            .values(**with_blind_indexes(values), version=Patient.version + 1)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return isinstance(result, CursorResult) and result.rowcount == 1

    async def refresh(self, patient: Patient) -> None:
        """Reload ``patient`` from the database."""
        await self.session.refresh(patient)

    async def next_number_sequence(self, day: str) -> int:
        """Atomically increment and return the sequence counter of ``day`` (``YYYYMMDD``).

        One statement, ``INSERT ... ON CONFLICT (day) DO UPDATE SET last_value =
        last_value + 1 RETURNING last_value``, so concurrent registrations never get the same
        value (the row lock is held until the transaction ends).
        """
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        upsert = insert(PatientNumberCounter).values(day=day, last_value=1)
        stmt = upsert.on_conflict_do_update(
            index_elements=[PatientNumberCounter.day],
            set_={"last_value": PatientNumberCounter.last_value + 1},
        ).returning(PatientNumberCounter.last_value)
        return int((await self.session.execute(stmt)).scalar_one())

    def _filters(self, c: SearchCriteria) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        where += [Patient.national_id_bidx == search_token("national_id", value)
                  for value in c.national_ids]
        where += [Patient.mobile_bidx == search_token("mobile", value) for value in c.mobiles]
        where += [Patient.passport_number_bidx == search_token("passport_number", value)
                  for value in c.passports]
        if c.patient_number is not None:
            where.append(Patient.patient_number == c.patient_number)
        if c.patient_number_prefix is not None:
            where.append(Patient.patient_number.like(
                _escape_like(c.patient_number_prefix) + "%", escape="\\"))
        where += [self._contains(token) for token in c.name_tokens]
        if c.name_or_patient_number is not None:
            tokens, number = c.name_or_patient_number
            alternatives = [and_(*[self._contains(t) for t in tokens]),
                            Patient.patient_number == number,
                            Patient.passport_number_bidx == search_token("passport_number",
                                                                         number)]
            if any(ch.isdigit() for ch in number):
                alternatives.append(Patient.phone_bidx == search_token("phone", number))
            where.append(or_(*alternatives))
        return where

    @staticmethod
    def _contains(token: str) -> ColumnElement[bool]:
        return Patient.name_search.like(f"%{_escape_like(token)}%", escape="\\")

    async def search(
        self, criteria: SearchCriteria, *, offset: int, limit: int,
        within: RowFilter | None = None,
    ) -> tuple[list[Patient], int]:
        """A page of patients matching every criterion (and inside ``within``, the caller's
        row scope, when given), and the total.

        Order: exact name match first, then names starting with the query, then the rest;
        within each, by full name (then id, so pages are stable).
        """
        where = self._filters(criteria)
        if within is not None:
            where.append(within(Patient.id))
        total = await self.session.scalar(
            select(func.count()).select_from(Patient).where(*where)
        )
        order: list[Any] = []
        if criteria.name_folded:
            folded = criteria.name_folded
            order.append(case(
                (Patient.name_search == folded, 0),
                (Patient.name_search.like(_escape_like(folded) + "%", escape="\\"), 1),
                else_=2,
            ))
        if criteria.patient_number_prefix:
            order.append(case((Patient.patient_number == criteria.patient_number_prefix, 0),
                              else_=1))
        order += [Patient.full_name, Patient.id]
        stmt = select(Patient).where(*where).order_by(*order)
        rows = await self.session.scalars(stmt.offset(offset).limit(limit))
        return list(rows), int(total or 0)
