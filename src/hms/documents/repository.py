"""Every SQL statement on ``visit_documents``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.core.scoping import RowFilter
from hms.documents.models import VisitDocument


class DocumentRepository:
    """Reads and writes of :class:`VisitDocument` rows in the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, document: VisitDocument) -> VisitDocument:
        """Insert a row and flush (so its defaults, e.g. ``uploaded_at``, are set)."""
        self.session.add(document)
        await self.session.flush()
        return document

    async def get(self, document_id: uuid.UUID, *,
                  within: RowFilter | None = None) -> VisitDocument | None:
        """The row with that id, or None; with ``within`` (a predicate on the visit id: the
        caller's visit scope) only a document whose visit passes it, in the same query."""
        if within is None:
            return await self.session.get(VisitDocument, document_id)
        stmt = select(VisitDocument).where(VisitDocument.id == document_id,
                                           within(VisitDocument.visit_id))
        return (await self.session.scalars(stmt)).first()

    @staticmethod
    def _for_visit(visit_id: uuid.UUID, document_type: str | None) -> Select[VisitDocument]:
        stmt = select(VisitDocument).where(VisitDocument.visit_id == visit_id)
        if document_type is not None:
            stmt = stmt.where(VisitDocument.document_type == document_type)
        return stmt

    async def list_for_visit(
        self,
        visit_id: uuid.UUID,
        *,
        offset: int,
        limit: int,
        document_type: str | None = None,
    ) -> tuple[Sequence[VisitDocument], int]:
        """One page of a visit's documents, newest first, and the total count.

        Args:
            visit_id: the visit.
            offset, limit: page window (rows).
            document_type: optional filter.
        """
        base = self._for_visit(visit_id, document_type)
        total = await self.session.scalar(
            select(func.count()).select_from(base.subquery())
        )
        rows = (
            await self.session.scalars(
                base.order_by(VisitDocument.uploaded_at.desc(), VisitDocument.id)
                .offset(offset)
                .limit(limit)
            )
        ).all()
        return rows, int(total or 0)

    async def for_patient(self, patient_id: uuid.UUID) -> Sequence[VisitDocument]:
        """Every document of a patient, oldest first (indexed ``patient_id``)."""
        stmt = (select(VisitDocument).where(VisitDocument.patient_id == patient_id)
                .order_by(VisitDocument.uploaded_at, VisitDocument.id))
        return (await self.session.scalars(stmt)).all()

    async def for_visits(self, visit_ids: Sequence[uuid.UUID]) -> Sequence[VisitDocument]:
        """Documents of several visits in one query, newest first within each visit."""
        if not visit_ids:
            return []
        stmt = (
            select(VisitDocument)
            .where(VisitDocument.visit_id.in_(list(visit_ids)))
            .order_by(VisitDocument.visit_id, VisitDocument.uploaded_at.desc(), VisitDocument.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def statistics(
        self, start: datetime | None, end: datetime | None
    ) -> list[tuple[str, str, int, int]]:
        """``(document_type, content_type, count, total bytes)`` for uploads in
        ``[start, end)`` (either bound may be None)."""
        stmt = select(
            VisitDocument.document_type,
            VisitDocument.content_type,
            func.count(),
            func.coalesce(func.sum(VisitDocument.size_bytes), 0),
        ).group_by(VisitDocument.document_type, VisitDocument.content_type)
        if start is not None:
            stmt = stmt.where(VisitDocument.uploaded_at >= start)
        if end is not None:
            stmt = stmt.where(VisitDocument.uploaded_at < end)
        result = await self.session.execute(stmt)
        return [(str(t), str(c), int(n), int(b)) for t, c, n, b in result.all()]
