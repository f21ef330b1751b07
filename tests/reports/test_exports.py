"""Report exports: the job lifecycle over HTTP (run in-process after the response) and the
CSV, XLSX and PDF files it produces."""

from __future__ import annotations

import base64
import csv
import io
import re
import uuid
import zipfile
import zlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.core.permissions import Role
from hms.reports.models import ReportJob
from tests.identity.factories import auth_headers
from tests.reports.factories import at, queued_job, registered_patient, visit_on

REPORTS = "/api/v1/reports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def admin(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    return await auth_headers(client, session, Role.ADMIN)


async def request_export(client: AsyncClient, headers: dict[str, str], report_type: str,
                         fmt: str, **params: str) -> Response:
    return await client.get(f"{REPORTS}/export/{report_type}", headers=headers,
                            params={"format": fmt, **params})


async def export_and_download(client: AsyncClient, headers: dict[str, str],
                              report_type: str, fmt: str, **params: str) -> Response:
    """Request an export, check it completed, and return the download response."""
    resp = await request_export(client, headers, report_type, fmt, **params)
    assert resp.status_code == 202, resp.text
    job = (await client.get(resp.json()["status_url"], headers=headers)).json()
    assert job["status"] == "completed", job
    download = await client.get(job["download_url"], headers=headers)
    assert download.status_code == 200, download.text
    return download


def csv_sections(content: bytes) -> dict[str, list[list[str]]]:
    """Sections of an export CSV: title -> [header, rows...]; the facts under ``""``."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    sections: dict[str, list[list[str]]] = {"": []}
    current = ""
    for i, row in enumerate(rows):
        if not row:
            current = rows[i + 1][0]
            sections[current] = []
        elif not (i > 0 and not rows[i - 1]):
            sections[current].append(row)
    return sections


def pdf_content(content: bytes) -> bytes:
    """The decoded content streams of a reportlab PDF (ASCII85 then Flate), enough to find
    its text and drawing operators without a PDF library."""
    out = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\n?endstream", content, re.S):
        data = raw.strip()
        if data.endswith(b"~>"):
            data = base64.a85decode(data[:-2].replace(b"\n", b""))
        try:
            out.append(zlib.decompress(data))
        except zlib.error:
            out.append(data)
    return b"\n".join(out)


def pdf_pages(content: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", content))


async def seed_visits(session: AsyncSession) -> None:
    await visit_on(session, at(date(2024, 6, 3)), status="closed", department="Radiology")
    await visit_on(session, at(date(2024, 6, 3), 15), department="=HYPERLINK(\"x\")")
    await visit_on(session, at(date(2024, 6, 5)), status="in_progress", department=None)


VISIT_RANGE = {"start": "2024-06-03", "end": "2024-06-05", "period": "day"}


class TestRequestingAnExport:
    async def test_answers_202_with_the_job_urls_and_a_location(
        self, client: AsyncClient, admin: dict[str, str]
    ) -> None:
        resp = await request_export(client, admin, "visits_volume", "csv", **VISIT_RANGE)

        assert resp.status_code == 202
        body = resp.json()
        job_id = uuid.UUID(body["job_id"])
        assert body == {"job_id": str(job_id), "status": "queued",
                        "status_url": f"{REPORTS}/jobs/{job_id}",
                        "download_url": f"{REPORTS}/jobs/{job_id}/download"}
        assert resp.headers["location"] == body["status_url"]

    async def test_the_job_runs_after_the_response_and_records_its_file(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str],
        app: FastAPI,
    ) -> None:
        resp = await request_export(client, admin, "visits_volume", "xlsx", **VISIT_RANGE)

        job = (await client.get(resp.json()["status_url"], headers=admin)).json()
        assert job["status"] == "completed"
        assert job["report_type"] == "visits_volume"
        assert job["format"] == "xlsx"
        assert job["params"] == VISIT_RANGE
        assert job["content_type"] == XLSX
        assert job["error"] is None
        assert job["started_at"] <= job["finished_at"]
        row = await session.scalar(
            select(ReportJob).where(ReportJob.id == uuid.UUID(job["job_id"])))
        assert row is not None and row.stored_name is not None
        stored = app.state.settings.exports_dir / row.stored_name
        assert stored.stat().st_size == job["size_bytes"] == row.size_bytes
        assert row.stored_name.endswith(".xlsx") and "visits" not in row.stored_name

    @pytest.mark.parametrize(("alias", "canonical"), [
        ("patients", "patients_statistics"),
        ("visits", "visits_volume"),
        ("assessments", "clinical_assessments"),
        ("dashboard", "dashboard"),
    ])
    async def test_short_report_names_are_accepted(
        self, client: AsyncClient, admin: dict[str, str], alias: str, canonical: str
    ) -> None:
        resp = await request_export(client, admin, alias, "csv")

        job = (await client.get(resp.json()["status_url"], headers=admin)).json()
        assert job["report_type"] == canonical
        assert job["status"] == "completed"

    async def test_unknown_report_type_is_a_422_problem(
        self, client: AsyncClient, admin: dict[str, str]
    ) -> None:
        resp = await request_export(client, admin, "payroll", "csv")

        assert resp.status_code == 422
        assert resp.json()["errors"][0]["field"] == "report_type"

    @pytest.mark.parametrize("params", [
        {"format": "docx"},
        {"start": "2024-02-01", "end": "2024-01-01"},
        {"start": "2019-01-01", "end": "2024-01-01", "period": "day"},
    ])
    async def test_bad_parameters_are_refused_and_no_job_is_created(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str],
        params: dict[str, str],
    ) -> None:
        resp = await client.get(f"{REPORTS}/export/visits", headers=admin, params=params)

        assert resp.status_code == 422
        assert await session.scalar(select(ReportJob.id)) is None

    async def test_export_and_download_are_audited(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        await export_and_download(client, admin, "dashboard", "csv")

        assert await audit.count_events(session, entity_type="report_job",
                                        action="export") == 1
        assert await audit.count_events(session, entity_type="report_job",
                                        action="download") == 1


class TestEachFormatOfEachReport:
    @pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
    @pytest.mark.parametrize("report_type", ["dashboard", "patients_statistics",
                                             "visits_volume", "clinical_assessments"])
    async def test_downloads_a_valid_file(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str],
        report_type: str, fmt: str,
    ) -> None:
        await seed_visits(session)

        resp = await export_and_download(client, admin, report_type, fmt)

        expected_type = {"csv": "text/csv", "xlsx": XLSX, "pdf": "application/pdf"}[fmt]
        assert resp.headers["content-type"].startswith(expected_type)
        disposition = resp.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert f'hms-{report_type}-' in disposition and disposition.endswith(f'.{fmt}"')
        assert resp.headers["x-content-type-options"] == "nosniff"
        content = resp.content
        if fmt == "csv":
            assert csv_sections(content)[""][0] == ["Report", service_title(report_type)]
        elif fmt == "xlsx":
            wb = load_workbook(io.BytesIO(content))
            assert wb.sheetnames[0] == "Report"
            assert len(wb.sheetnames) >= 3
        else:
            assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
            assert pdf_pages(content) >= 1
            assert service_title(report_type).encode() in pdf_content(content)


def service_title(report_type: str) -> str:
    from hms.reports.render import TITLES

    return TITLES[report_type]


class TestFileContents:
    async def test_csv_holds_the_figures_and_neutralises_formulas(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        await seed_visits(session)

        resp = await export_and_download(client, admin, "visits", "csv", **VISIT_RANGE)

        assert 'filename="hms-visits_volume-2024-06-03_2024-06-05.csv"' in \
            resp.headers["content-disposition"]
        sections = csv_sections(resp.content)
        facts = dict(map(tuple, sections[""]))  # type: ignore[arg-type]
        assert facts["From"] == "2024-06-03" and facts["To"] == "2024-06-05"
        assert "Generated at (UTC)" in facts
        assert sections["By status"] == [["Status", "Visits"], ["open", "1"],
                                         ["in_progress", "1"], ["closed", "1"],
                                         ["cancelled", "0"]]
        assert sections["By department"][1:] == [
            ["'=HYPERLINK(\"x\")", "1"], ["Radiology", "1"], ["unassigned", "1"]]
        assert sections["Visits per period"] == [
            ["Period", "From", "To", "Visits", "open", "in_progress", "closed", "cancelled"],
            ["2024-06-03", "2024-06-03", "2024-06-03", "2", "1", "0", "1", "0"],
            ["2024-06-04", "2024-06-04", "2024-06-04", "0", "0", "0", "0", "0"],
            ["2024-06-05", "2024-06-05", "2024-06-05", "1", "0", "1", "0", "0"],
        ]

    async def test_xlsx_has_a_sheet_per_section_bold_headers_and_real_numbers(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        await registered_patient(session, registered_at=at(date(2024, 1, 10)),
                                 gender="female", date_of_birth=date(1990, 2, 3))
        await registered_patient(session, registered_at=at(date(2024, 2, 10)),
                                 gender="male", date_of_birth=date(1950, 2, 3))

        resp = await export_and_download(client, admin, "patients", "xlsx",
                                         start="2024-01-01", end="2024-03-31",
                                         period="month")

        wb = load_workbook(io.BytesIO(resp.content))
        assert wb.sheetnames == ["Report", "Summary", "By gender", "By age band",
                                 "New patients per period"]
        series = wb["New patients per period"]
        assert [c.value for c in series[1]] == ["Period", "From", "To", "New patients"]
        assert all(c.font.b for c in series[1])
        rows = [[c.value for c in row] for row in series.iter_rows(min_row=2)]
        assert [(r[0], r[3]) for r in rows] == [("2024-01", 1), ("2024-02", 1),
                                                ("2024-03", 0)]
        assert all(isinstance(r[3], int) for r in rows)
        assert rows[0][1].date() == date(2024, 1, 1)
        bands = {r[0].value: r[1].value for r in wb["By age band"].iter_rows(min_row=2)}
        assert bands == {"0-17": 0, "18-34": 1, "35-49": 0, "50-64": 0, "65+": 1,
                         "unknown": 0}

    async def test_xlsx_keeps_formula_like_text_as_text(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        await seed_visits(session)

        resp = await export_and_download(client, admin, "visits", "xlsx", **VISIT_RANGE)

        sheet = load_workbook(io.BytesIO(resp.content))["By department"]
        cells = [row[0] for row in sheet.iter_rows(min_row=2)]
        assert all(c.data_type == "s" for c in cells)
        assert '=HYPERLINK("x")' in [c.value for c in cells]

    async def test_pdf_has_title_range_generated_at_tables_and_a_bar_chart(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        await seed_visits(session)

        resp = await export_and_download(client, admin, "visits_volume", "pdf",
                                         **VISIT_RANGE)

        text = pdf_content(resp.content)
        assert b"hms - Visit volume" in text
        assert b"2024-06-03" in text and b"2024-06-05" in text
        assert b"Generated at" in text
        assert b"Visits per day" in text          # the chart's title
        assert b"By department" in text           # a table heading
        assert b" re" in text                     # the bars (rectangles)

    async def test_exports_hold_no_patient_identifiers(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        patient = await registered_patient(session, gender="female",
                                           date_of_birth=date(1985, 7, 9))
        await visit_on(session, at(date.today()), patient_id=patient.id,
                       department="Cardiology")
        secrets = [patient.full_name, patient.patient_number, patient.national_id,
                   str(patient.id)]

        for report_type in ("dashboard", "patients", "visits", "assessments"):
            csv_bytes = (await export_and_download(client, admin, report_type, "csv")).content
            xlsx_bytes = (await export_and_download(client, admin, report_type,
                                                    "xlsx")).content
            with zipfile.ZipFile(io.BytesIO(xlsx_bytes)) as zf:
                xml = b"".join(zf.read(n) for n in zf.namelist())
            pdf = pdf_content((await export_and_download(client, admin, report_type,
                                                          "pdf")).content)
            for secret in secrets:
                assert secret is not None
                for blob in (csv_bytes, xml, pdf):
                    assert secret.encode() not in blob


class TestPollingAndDownloading:
    async def test_a_queued_job_cannot_be_downloaded_yet(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        job_id = await queued_job(session)

        status = await client.get(f"{REPORTS}/jobs/{job_id}", headers=admin)
        download = await client.get(f"{REPORTS}/jobs/{job_id}/download", headers=admin)

        assert status.json()["status"] == "queued"
        assert status.headers["retry-after"] == "1"
        assert download.status_code == 409
        assert download.json()["code"] == "report_not_ready"

    async def test_unknown_job_is_404(self, client: AsyncClient, admin: dict[str, str]
                                      ) -> None:
        for path in (f"{REPORTS}/jobs/{uuid.uuid4()}", f"{REPORTS}/jobs/{uuid.uuid4()}/download"):
            resp = await client.get(path, headers=admin)
            assert resp.status_code == 404
            assert resp.json()["code"] == "report_job_not_found"

    async def test_a_job_that_cannot_store_its_file_fails_with_a_reason(
        self, client: AsyncClient, app: FastAPI, admin: dict[str, str], tmp_path: Path
    ) -> None:
        # The data folder is a plain file, so the exports folder cannot be created.
        blocked = tmp_path / "not-a-folder"
        blocked.write_text("x")
        app.state.settings = app.state.settings.model_copy(update={"data_dir": blocked})

        resp = await request_export(client, admin, "dashboard", "pdf")
        job = (await client.get(resp.json()["status_url"], headers=admin)).json()
        download = await client.get(job["download_url"], headers=admin)

        assert job["status"] == "failed"
        assert job["error"].startswith("Export failed (")
        assert job["finished_at"] is not None
        assert download.status_code == 409
        assert download.json()["code"] == "report_failed"

    async def test_a_completed_job_whose_file_was_removed_is_404(
        self, client: AsyncClient, session: AsyncSession, app: FastAPI,
        admin: dict[str, str],
    ) -> None:
        resp = await request_export(client, admin, "dashboard", "csv")
        job_id = resp.json()["job_id"]
        row = await session.scalar(select(ReportJob).where(ReportJob.id == uuid.UUID(job_id)))
        assert row is not None and row.stored_name
        (app.state.settings.exports_dir / row.stored_name).unlink()

        download = await client.get(resp.json()["download_url"], headers=admin)

        assert download.status_code == 404
        assert download.json()["code"] == "report_file_missing"

    @pytest.mark.parametrize("role", [Role.NURSE, Role.PHYSICIAN])
    async def test_clinical_roles_cannot_poll_or_download(
        self, client: AsyncClient, session: AsyncSession, role: Role
    ) -> None:
        job_id = await queued_job(session)
        headers = await auth_headers(client, session, role)

        for path in (f"{REPORTS}/jobs/{job_id}", f"{REPORTS}/jobs/{job_id}/download"):
            assert (await client.get(path, headers=headers)).status_code == 403


__all__: list[Any] = []
