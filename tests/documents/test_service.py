"""Service functions other modules call, and the file clean-up on rollback."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from hms.config import Settings
from hms.core.auth import Principal
from hms.core.permissions import Role, permissions_for
from hms.db.base import utcnow
from hms.documents import service
from hms.documents.models import VisitDocument
from hms.documents.schemas import DocumentRead
from hms.documents.storage import DocumentStore
from tests.documents.factories import CT_SMALL, chunks, make_pdf, make_png, multipart_body
from tests.identity.factories import make_user
from tests.visits.factories import make_visit


@pytest.fixture
async def nurse(session: AsyncSession) -> Principal:
    user = await make_user(session, Role.NURSE)
    return Principal(user_id=user.id, username=user.username, role=Role.NURSE,
                     permissions=permissions_for(Role.NURSE), session_id=uuid.uuid4(),
                     token_id="test")


async def _upload(session: AsyncSession, actor: Principal, settings: Settings,
                  visit_id: uuid.UUID, data: bytes, filename: str = "f.bin",
                  **fields: str) -> DocumentRead:
    parts: list[tuple[str, str | None, str | None, bytes]] = [
        (name, None, None, value.encode()) for name, value in fields.items()]
    parts.append(("file", filename, None, data))
    body, ctype = multipart_body(parts)
    return await service.upload_document(
        session, actor, visit_id, headers={"content-type": ctype}, body=chunks(body),
        store=DocumentStore(settings.documents_dir), max_bytes=settings.upload_max_bytes,
    )


class TestSummariesForVisits:
    async def test_groups_documents_by_visit_with_an_entry_for_every_visit(
        self, session: AsyncSession, settings: Settings, nurse: Principal,
    ) -> None:
        a = await make_visit(session)
        b = await make_visit(session, patient_id=a.patient_id)
        empty = await make_visit(session)
        pdf = await _upload(session, nurse, settings, a.id, make_pdf(), "a.pdf")
        ct = await _upload(session, nurse, settings, a.id, CT_SMALL.read_bytes(), "ct.dcm")
        png = await _upload(session, nurse, settings, b.id, make_png(), "b.png")

        result = await service.summaries_for_visits(session, [a.id, b.id, empty.id])

        assert set(result) == {a.id, b.id, empty.id}
        assert {d.id for d in result[a.id]} == {pdf.id, ct.id}
        assert [d.id for d in result[b.id]] == [png.id]
        assert result[empty.id] == []
        dicom = next(d for d in result[a.id] if d.id == ct.id)
        assert dicom.dicom is not None and dicom.dicom.modality == "CT"

    async def test_no_visits_no_query(self, session: AsyncSession) -> None:
        assert await service.summaries_for_visits(session, []) == {}


class TestStatistics:
    async def test_counts_by_type_and_total_bytes_in_the_period(
        self, session: AsyncSession, settings: Settings, nurse: Principal,
    ) -> None:
        start = utcnow() - timedelta(seconds=1)
        visit = await make_visit(session)
        pdf = make_pdf()
        png = make_png()
        await _upload(session, nurse, settings, visit.id, pdf, "a.pdf", document_type="report")
        await _upload(session, nurse, settings, visit.id, png, "b.png")
        await _upload(session, nurse, settings, visit.id, CT_SMALL.read_bytes(), "c.dcm")
        end = utcnow() + timedelta(seconds=1)

        stats = await service.statistics(session, start, end)

        assert stats["total_documents"] == 3
        assert stats["total_bytes"] == len(pdf) + len(png) + CT_SMALL.stat().st_size
        assert stats["by_type"] == {"report": 1, "image": 1, "dicom": 1}
        assert stats["by_content_type"] == {"application/pdf": 1, "image/png": 1,
                                            "application/dicom": 1}
        later = await service.statistics(session, end, None)
        assert later["total_documents"] == 0


class TestFilesFollowTheTransaction:
    async def test_a_placed_file_is_deleted_when_the_transaction_rolls_back(
        self, session: AsyncSession, settings: Settings, nurse: Principal,
    ) -> None:
        visit = await make_visit(session)
        doc = await _upload(session, nurse, settings, visit.id, make_pdf(), "a.pdf")
        path = await _path_of(session, settings, doc)
        assert path.exists()
        await session.rollback()
        assert not path.exists()

    async def test_a_committed_file_stays(
        self, session: AsyncSession, settings: Settings, nurse: Principal,
    ) -> None:
        visit = await make_visit(session)
        doc = await _upload(session, nurse, settings, visit.id, make_pdf(), "a.pdf")
        path = await _path_of(session, settings, doc)
        await session.commit()
        await session.rollback()  # a later, unrelated rollback must not touch it
        assert path.exists()

    async def test_a_savepoint_rollback_keeps_the_file(
        self, session: AsyncSession, settings: Settings, nurse: Principal,
    ) -> None:
        visit = await make_visit(session)
        doc = await _upload(session, nurse, settings, visit.id, make_pdf(), "a.pdf")
        path = await _path_of(session, settings, doc)
        nested = await session.begin_nested()
        await nested.rollback()
        assert path.exists()


async def _path_of(session: AsyncSession, settings: Settings, doc: DocumentRead) -> Path:
    row = await session.get(VisitDocument, doc.id)
    assert row is not None
    return DocumentStore(settings.documents_dir).path_for(row.stored_name)
