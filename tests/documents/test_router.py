"""Documents over HTTP: upload, list, metadata, download, on both databases."""

from __future__ import annotations

import base64
import hashlib
import uuid
from pathlib import Path

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.config import Settings
from hms.core.permissions import Role
from hms.documents.models import VisitDocument
from hms.documents.storage import STORED_NAME_RE
from tests.documents.factories import (
    CT_SMALL,
    MR_SMALL,
    dicom_index,
    file_bytes,
    make_jpeg,
    make_pdf,
    make_png,
    make_tiff,
    multipart_body,
    stored_files,
    upload,
)
from tests.identity.factories import auth_headers
from tests.visits.factories import make_visit


@pytest.fixture
async def nurse(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    return await auth_headers(client, session, Role.NURSE)


@pytest.fixture
async def physician(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    return await auth_headers(client, session, Role.PHYSICIAN)


@pytest.fixture
async def visit_id(session: AsyncSession) -> uuid.UUID:
    return (await make_visit(session)).id


async def _row_count(session: AsyncSession, visit_id: uuid.UUID) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(VisitDocument)
        .where(VisitDocument.visit_id == visit_id)) or 0)


async def _stored_path(session: AsyncSession, settings: Settings, document_id: str) -> Path:
    row = await session.get(VisitDocument, uuid.UUID(document_id))
    assert row is not None
    return settings.documents_dir / row.stored_name[:2] / row.stored_name


class TestUploadAcceptedTypes:
    async def test_nurse_uploads_a_scanned_pdf(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        pdf = make_pdf()
        resp = await upload(client, visit_id, nurse, pdf, "referral.pdf", "application/pdf",
                            description="Referral letter")
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert resp.headers["location"] == f"/api/v1/documents/{body['id']}"
        assert body["visit_id"] == str(visit_id)
        assert body["content_type"] == "application/pdf"
        assert body["document_type"] == "scan"
        assert body["size_bytes"] == len(pdf)
        assert body["sha256"] == hashlib.sha256(pdf).hexdigest()
        assert body["original_filename"] == "referral.pdf"
        assert body["description"] == "Referral letter"
        assert body["dicom"] is None
        assert body["uploaded_by"] is not None
        assert body["download_url"] == f"/api/v1/documents/{body['id']}/download"
        path = await _stored_path(session, settings, body["id"])
        assert path.read_bytes() == pdf
        assert STORED_NAME_RE.fullmatch(path.name) and path.suffix == ".pdf"
        assert path.parent.name == path.name[:2]

    @pytest.mark.parametrize(
        ("maker", "mime", "doc_type", "ext"),
        [(make_png, "image/png", "image", ".png"), (make_jpeg, "image/jpeg", "image", ".jpg"),
         (make_tiff, "image/tiff", "scan", ".tif")],
        ids=["png", "jpeg", "tiff"],
    )
    async def test_images_are_typed_by_their_bytes(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        nurse: dict[str, str], visit_id: uuid.UUID, maker, mime: str, doc_type: str,
        ext: str,
    ) -> None:
        # The claimed name and Content-Type are wrong on purpose: the bytes decide.
        resp = await upload(client, visit_id, nurse, maker(), "photo.pdf", "application/pdf")
        assert resp.status_code == 201, resp.text
        assert resp.json()["content_type"] == mime
        assert resp.json()["document_type"] == doc_type
        path = await _stored_path(session, settings, resp.json()["id"])
        assert path.suffix == ext

    @pytest.mark.parametrize("path", [CT_SMALL, MR_SMALL], ids=["ct", "mr"])
    async def test_dicom_upload_reads_the_study_metadata(
        self, client: AsyncClient, session: AsyncSession, nurse: dict[str, str],
        visit_id: uuid.UUID, path: Path, capfd: pytest.CaptureFixture[str],
    ) -> None:
        expected = dicom_index()[path.name]
        resp = await upload(client, visit_id, nurse, file_bytes(path), path.name,
                            "application/octet-stream", document_type="scan")
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["document_type"] == "dicom"
        assert body["content_type"] == "application/dicom"
        assert body["sha256"] == expected["sha256"]
        assert body["size_bytes"] == int(expected["bytes"])
        dicom = body["dicom"]
        assert dicom["modality"] == expected["modality"]
        assert dicom["study_uid"] == expected["study_instance_uid"]
        assert dicom["series_uid"] == expected["series_instance_uid"]
        assert dicom["sop_instance_uid"] == expected["sop_instance_uid"]
        sd = expected["study_date"]
        assert dicom["study_date"] == f"{sd[:4]}-{sd[4:6]}-{sd[6:]}"
        # The file's own patient name and ID go nowhere: not the answer, audit or logs.
        events = await audit.list_events(session, entity_type="visit_document",
                                         entity_id=body["id"], action="create")
        out, err = capfd.readouterr()
        for secret in (expected["patient_name"], expected["patient_id"]):
            assert secret not in resp.text
            assert secret not in str(events[0].changes)
            assert secret not in out + err

    async def test_closed_visits_still_accept_late_documents(
        self, client: AsyncClient, session: AsyncSession, nurse: dict[str, str],
    ) -> None:
        closed = await make_visit(session, status="closed")
        resp = await upload(client, closed.id, nurse, make_pdf(), "late-report.pdf",
                            document_type="report")
        assert resp.status_code == 201, resp.text
        assert resp.json()["document_type"] == "report"

    async def test_admin_may_upload(
        self, client: AsyncClient, session: AsyncSession, visit_id: uuid.UUID,
    ) -> None:
        admin = await auth_headers(client, session, Role.ADMIN)
        resp = await upload(client, visit_id, admin, make_png(), "x.png")
        assert resp.status_code == 201, resp.text


class TestUploadRefusedNothingStored:
    async def test_text_file_named_pdf_is_415(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        before = stored_files(settings.documents_dir)
        resp = await upload(client, visit_id, nurse, b"Just some text, not a PDF at all.\n",
                            "report.pdf", "application/pdf")
        assert resp.status_code == 415, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["code"] == "unsupported_document_type"
        assert await _row_count(session, visit_id) == 0
        assert stored_files(settings.documents_dir) == before

    async def test_fake_dicom_preamble_is_415(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        before = stored_files(settings.documents_dir)
        resp = await upload(client, visit_id, nurse, b"\x00" * 128 + b"DICMnot really",
                            "x.dcm")
        assert resp.status_code == 415
        assert await _row_count(session, visit_id) == 0
        assert stored_files(settings.documents_dir) == before

    async def test_one_byte_over_the_limit_is_413(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        nurse: dict[str, str], visit_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        pdf = make_pdf()
        monkeypatch.setattr(settings, "upload_max_bytes", len(pdf) - 1)
        before = stored_files(settings.documents_dir)
        resp = await upload(client, visit_id, nurse, pdf, "big.pdf")
        assert resp.status_code == 413, resp.text
        assert resp.json()["code"] == "document_too_large"
        assert await _row_count(session, visit_id) == 0
        assert stored_files(settings.documents_dir) == before

    async def test_exactly_at_the_limit_is_accepted(
        self, client: AsyncClient, settings: Settings, nurse: dict[str, str],
        visit_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        pdf = make_pdf()
        monkeypatch.setattr(settings, "upload_max_bytes", len(pdf))
        resp = await upload(client, visit_id, nurse, pdf, "fits.pdf")
        assert resp.status_code == 201, resp.text

    async def test_declared_length_far_over_the_limit_is_413(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        nurse: dict[str, str], visit_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(settings, "upload_max_bytes", 1000)
        before = stored_files(settings.documents_dir)
        resp = await upload(client, visit_id, nurse, b"%PDF-1.4\n" + b"0" * 200_000, "x.pdf")
        assert resp.status_code == 413
        assert await _row_count(session, visit_id) == 0
        assert stored_files(settings.documents_dir) == before

    async def test_empty_file_is_422(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        before = stored_files(settings.documents_dir)
        resp = await upload(client, visit_id, nurse, b"", "empty.pdf")
        assert resp.status_code == 422
        assert [e["field"] for e in resp.json()["errors"]] == ["file"]
        assert await _row_count(session, visit_id) == 0
        assert stored_files(settings.documents_dir) == before

    async def test_missing_file_part_is_422(
        self, client: AsyncClient, nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        body, ctype = multipart_body([("description", None, None, b"forgot the file")])
        resp = await client.post(f"/api/v1/visits/{visit_id}/documents", content=body,
                                 headers={**nurse, "Content-Type": ctype})
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["field"] == "file"

    async def test_unknown_document_type_is_422_and_nothing_stored(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        before = stored_files(settings.documents_dir)
        resp = await upload(client, visit_id, nurse, make_pdf(), "a.pdf",
                            document_type="selfie")
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["field"] == "document_type"
        assert await _row_count(session, visit_id) == 0
        assert stored_files(settings.documents_dir) == before

    async def test_claiming_dicom_for_a_pdf_is_422(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        before = stored_files(settings.documents_dir)
        resp = await upload(client, visit_id, nurse, make_pdf(), "a.pdf",
                            document_type="dicom")
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["field"] == "document_type"
        assert stored_files(settings.documents_dir) == before

    async def test_json_body_is_415(
        self, client: AsyncClient, nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        resp = await client.post(f"/api/v1/visits/{visit_id}/documents", json={"file": "x"},
                                 headers=nurse)
        assert resp.status_code == 415

    async def test_truncated_multipart_is_400(
        self, client: AsyncClient, nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        body, ctype = multipart_body([("file", "a.pdf", None, make_pdf())])
        resp = await client.post(f"/api/v1/visits/{visit_id}/documents", content=body[:-30],
                                 headers={**nurse, "Content-Type": ctype})
        assert resp.status_code == 400
        assert resp.json()["code"] == "invalid_multipart"

    async def test_unknown_visit_is_404(
        self, client: AsyncClient, nurse: dict[str, str],
    ) -> None:
        resp = await upload(client, uuid.uuid4(), nurse, make_pdf())
        assert resp.status_code == 404

    async def test_cancelled_visit_is_409(
        self, client: AsyncClient, session: AsyncSession, nurse: dict[str, str],
    ) -> None:
        cancelled = await make_visit(session, status="cancelled")
        resp = await upload(client, cancelled.id, nurse, make_pdf())
        assert resp.status_code == 409
        assert resp.json()["code"] == "visit_cancelled"


class TestFilenameHygiene:
    async def test_traversal_name_is_stored_safely(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        resp = await upload(client, visit_id, nurse, make_png(), "../../etc/passwd")
        assert resp.status_code == 201, resp.text
        assert resp.json()["original_filename"] == "passwd"
        path = await _stored_path(session, settings, resp.json()["id"])
        assert path.resolve().is_relative_to(settings.documents_dir.resolve())
        assert STORED_NAME_RE.fullmatch(path.name)
        assert not (settings.documents_dir / ".." / ".." / "etc" / "passwd").exists()
        download = await client.get(resp.json()["download_url"], headers=nurse)
        assert "filename=\"passwd.png\"" in download.headers["content-disposition"]

    async def test_non_ascii_name_round_trips_in_content_disposition(
        self, client: AsyncClient, nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        resp = await upload(client, visit_id, nurse, make_pdf(), "تقرير.pdf")
        assert resp.status_code == 201, resp.text
        assert resp.json()["original_filename"] == "تقرير.pdf"
        download = await client.get(resp.json()["download_url"], headers=nurse)
        assert ("filename*=UTF-8''%D8%AA%D9%82%D8%B1%D9%8A%D8%B1.pdf"
                in download.headers["content-disposition"])


class TestDownload:
    async def test_returns_identical_bytes_as_an_attachment(
        self, client: AsyncClient, session: AsyncSession, nurse: dict[str, str],
        physician: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        data = CT_SMALL.read_bytes()
        created = (await upload(client, visit_id, nurse, data, "ct.dcm")).json()
        resp = await client.get(created["download_url"], headers=physician)
        assert resp.status_code == 200
        assert resp.content == data
        assert resp.headers["content-type"] == "application/dicom"
        assert resp.headers["content-disposition"].startswith("attachment;")
        assert "filename*=UTF-8''ct.dcm" in resp.headers["content-disposition"]
        assert resp.headers["x-content-type-options"] == "nosniff"
        digest = hashlib.sha256(data)
        assert resp.headers["etag"] == f'"{digest.hexdigest()}"'
        assert resp.headers["repr-digest"] == (
            f"sha-256=:{base64.b64encode(digest.digest()).decode()}:")
        events = await audit.list_events(session, entity_type="visit_document",
                                         entity_id=created["id"], action="download")
        assert len(events) == 1
        assert str(events[0].patient_id) == created["patient_id"]

    async def test_a_name_that_hides_the_type_gets_the_real_extension(
        self, client: AsyncClient, nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        created = (await upload(client, visit_id, nurse, make_png(), "page.html")).json()
        resp = await client.get(created["download_url"], headers=nurse)
        assert 'filename="page.html.png"' in resp.headers["content-disposition"]
        assert resp.headers["content-type"] == "image/png"

    async def test_a_tampered_file_is_not_served(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        created = (await upload(client, visit_id, nurse, make_pdf(), "a.pdf")).json()
        path = await _stored_path(session, settings, created["id"])
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
        path.write_bytes(bytes(data))
        resp = await client.get(created["download_url"], headers=nurse)
        assert resp.status_code == 500
        assert resp.json()["code"] == "document_integrity_error"

    async def test_a_missing_file_is_a_server_error_not_a_crash(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        created = (await upload(client, visit_id, nurse, make_pdf(), "a.pdf")).json()
        (await _stored_path(session, settings, created["id"])).unlink()
        resp = await client.get(created["download_url"], headers=nurse)
        assert resp.status_code == 500
        assert resp.json()["code"] == "document_integrity_error"

    async def test_unknown_document_is_404(
        self, client: AsyncClient, nurse: dict[str, str],
    ) -> None:
        resp = await client.get(f"/api/v1/documents/{uuid.uuid4()}/download", headers=nurse)
        assert resp.status_code == 404
        assert resp.json()["code"] == "document_not_found"


class TestReadMetadata:
    async def test_metadata_is_read_and_audited(
        self, client: AsyncClient, session: AsyncSession, nurse: dict[str, str],
        physician: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        created = await upload(client, visit_id, nurse, MR_SMALL.read_bytes(), "mr.dcm")
        doc = created.json()
        resp = await client.get(f"/api/v1/documents/{doc['id']}", headers=physician)
        assert resp.status_code == 200
        assert resp.json() == doc
        for action in ("create", "read"):
            events = await audit.list_events(session, entity_type="visit_document",
                                             entity_id=doc["id"], action=action)
            assert len(events) == 1, action
            assert str(events[0].patient_id) == doc["patient_id"]

    async def test_unknown_document_is_404(
        self, client: AsyncClient, nurse: dict[str, str],
    ) -> None:
        resp = await client.get(f"/api/v1/documents/{uuid.uuid4()}", headers=nurse)
        assert resp.status_code == 404

    async def test_list_is_a_page_newest_first_with_one_audit_read_each(
        self, client: AsyncClient, session: AsyncSession, nurse: dict[str, str],
        physician: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        first = (await upload(client, visit_id, nurse, make_pdf(), "first.pdf")).json()
        second = (await upload(client, visit_id, nurse, CT_SMALL.read_bytes(), "ct.dcm")
                  ).json()
        other_visit = await make_visit(session)
        await upload(client, other_visit.id, nurse, make_png(), "elsewhere.png")

        resp = await client.get(f"/api/v1/visits/{visit_id}/documents", headers=physician)
        assert resp.status_code == 200
        page = resp.json()
        assert page["total"] == 2 and page["page"] == 1 and page["page_size"] == 20
        assert [d["id"] for d in page["items"]] == [second["id"], first["id"]]
        for doc in (first, second):
            events = await audit.list_events(session, entity_type="visit_document",
                                             entity_id=doc["id"], action="read")
            assert len(events) == 1

        paged = (await client.get(f"/api/v1/visits/{visit_id}/documents?page_size=1&page=2",
                                  headers=physician)).json()
        assert paged["total"] == 2
        assert [d["id"] for d in paged["items"]] == [first["id"]]

        dicoms = (await client.get(f"/api/v1/visits/{visit_id}/documents?document_type=dicom",
                                   headers=physician)).json()
        assert [d["id"] for d in dicoms["items"]] == [second["id"]]

    async def test_list_of_unknown_visit_is_404(
        self, client: AsyncClient, nurse: dict[str, str],
    ) -> None:
        resp = await client.get(f"/api/v1/visits/{uuid.uuid4()}/documents", headers=nurse)
        assert resp.status_code == 404


class TestPermissions:
    async def test_physician_cannot_upload(
        self, client: AsyncClient, session: AsyncSession, settings: Settings,
        physician: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        before = stored_files(settings.documents_dir)
        resp = await upload(client, visit_id, physician, make_pdf())
        assert resp.status_code == 403
        assert await _row_count(session, visit_id) == 0
        assert stored_files(settings.documents_dir) == before

    @pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.PHARMACIST, Role.PATIENT])
    async def test_other_roles_are_403_everywhere(
        self, client: AsyncClient, session: AsyncSession, nurse: dict[str, str],
        visit_id: uuid.UUID, role: Role,
    ) -> None:
        doc = (await upload(client, visit_id, nurse, make_pdf())).json()
        headers = await auth_headers(client, session, role)
        assert (await upload(client, visit_id, headers, make_pdf())).status_code == 403
        for url in (f"/api/v1/visits/{visit_id}/documents", f"/api/v1/documents/{doc['id']}",
                    doc["download_url"]):
            assert (await client.get(url, headers=headers)).status_code == 403, url

    async def test_no_token_is_401_everywhere(
        self, client: AsyncClient, nurse: dict[str, str], visit_id: uuid.UUID,
    ) -> None:
        doc = (await upload(client, visit_id, nurse, make_pdf())).json()
        assert (await upload(client, visit_id, {}, make_pdf())).status_code == 401
        for url in (f"/api/v1/visits/{visit_id}/documents", f"/api/v1/documents/{doc['id']}",
                    doc["download_url"]):
            resp = await client.get(url)
            assert resp.status_code == 401, url
            assert resp.headers["www-authenticate"] == "Bearer"
