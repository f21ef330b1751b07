"""Every SQL statement on ``legal_holds`` and ``erasure_requests``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hms.privacy.models import ErasureRequest, LegalHold

#: First key of the privacy module's advisory locks (ASCII "priv").
_LOCK_SPACE = 0x70726976


class PrivacyRepository:
    """Legal holds and erasure requests in the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def hold(self, patient_id: uuid.UUID) -> LegalHold | None:
        """The patient's legal hold row, or None (never held)."""
        return await self.session.get(LegalHold, patient_id)

    async def lock_patient(self, patient_id: uuid.UUID) -> None:
        """Serialise legal-hold changes and erasure decisions of one patient until the
        transaction ends (PostgreSQL transaction advisory lock on (privacy, patient); SQLite
        writers are serialised by ``BEGIN IMMEDIATE`` already), so an erasure cannot be
        decided while a hold is being placed."""
        bind = self.session.get_bind()
        if bind.dialect.name == "postgresql":
            key = int.from_bytes(patient_id.bytes[:4], "big", signed=True)
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"),
                                       {"space": _LOCK_SPACE, "key": key})

    async def add(self, row: LegalHold | ErasureRequest) -> None:
        """Insert a row and flush."""
        self.session.add(row)
        await self.session.flush()

    async def request(self, request_id: uuid.UUID) -> ErasureRequest | None:
        """The erasure request with that id, or None."""
        return await self.session.get(ErasureRequest, request_id)

    async def requests_of_patient(self, patient_id: uuid.UUID) -> Sequence[ErasureRequest]:
        """A patient's erasure requests, newest first."""
        stmt = (select(ErasureRequest).where(ErasureRequest.patient_id == patient_id)
                .order_by(ErasureRequest.requested_at.desc(), ErasureRequest.id))
        return (await self.session.scalars(stmt)).all()

    async def page_requests(
        self, *, patient_id: uuid.UUID | None, outcome: str | None, offset: int, limit: int
    ) -> tuple[Sequence[ErasureRequest], int]:
        """A page of erasure requests, newest first, and the total."""
        stmt = select(ErasureRequest)
        if patient_id is not None:
            stmt = stmt.where(ErasureRequest.patient_id == patient_id)
        if outcome is not None:
            stmt = stmt.where(ErasureRequest.outcome == outcome)
        total = await self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = (await self.session.scalars(
            stmt.order_by(ErasureRequest.requested_at.desc(), ErasureRequest.id)
            .offset(offset).limit(limit))).all()
        return rows, int(total or 0)
