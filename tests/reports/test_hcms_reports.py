"""Seed 004 report files (``/reports``): request (202), background build, download, the
seven report types with known figures, the rules (date range, billing-only types), list
visibility, rename and delete."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit.models import AuditEvent
from hms.core.permissions import Role
from hms.reports import files
from hms.reports.models import Report
from tests.identity.factories import auth_headers, login, make_doctor, make_user
from tests.reports.factories import (
    appointment_on,
    at,
    billing_service,
    consultation_on,
    department,
    invoice_on,
    lab_test_on,
    registered_patient,
    visit_on,
)
from tests.reports.test_exports import pdf_content

REPORTS = "/api/v1/reports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROBLEM = "application/problem+json"
START, END = date(2026, 3, 1), date(2026, 3, 31)
IN_RANGE = date(2026, 3, 10)
BEFORE = date(2026, 2, 20)


@pytest.fixture
async def admin(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    return await auth_headers(client, session, Role.ADMIN)


@pytest.fixture(autouse=True)
def _exports_dir(app: FastAPI, tmp_path: Path) -> Path:
    app.state.settings = app.state.settings.model_copy(update={"data_dir": tmp_path})
    return Path(app.state.settings.exports_dir)


def assert_problem(resp: Any, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["type"].endswith(code), body
    assert code in body["detail"] or body.get("code") == code or body["type"].endswith(code)


async def generate(client: AsyncClient, headers: dict[str, str], report_type: str,
                   fmt: str = "xlsx", start: date = START, end: date = END,
                   **extra: Any) -> dict[str, Any]:
    """POST /reports/generate, check the 202, then read the (built) report."""
    resp = await client.post(f"{REPORTS}/generate", headers=headers, json={
        "report_type": report_type, "start_date": start.isoformat(),
        "end_date": end.isoformat(), "format": fmt, **extra})
    assert resp.status_code == 202, resp.text
    assert resp.json()["status"] == "generating"
    assert resp.headers["location"].endswith(resp.json()["id"])
    got = await client.get(f"{REPORTS}/{resp.json()['id']}", headers=headers)
    assert got.status_code == 200, got.text
    return got.json()


async def download_xlsx(client: AsyncClient, headers: dict[str, str], report: dict[str, Any]
                        ) -> dict[str, list[list[Any]]]:
    """The completed report's XLSX: sheet title -> rows (header first)."""
    assert report["status"] == "completed", report
    resp = await client.get(report["download_url"], headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == XLSX
    assert f"hms-{report['report_type']}-" in resp.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(resp.content))
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)]
            for ws in wb.worksheets}


def as_dict(rows: list[list[Any]]) -> dict[Any, Any]:
    """A two-column sheet (header skipped) as ``{first: second}``."""
    return {r[0]: r[1] for r in rows[1:]}


# --- the seven report types ----------------------------------------------------------

async def test_patient_statistics_counts_new_registrations_by_gender_and_age_band(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    await registered_patient(session, registered_at=at(IN_RANGE), gender="male",
                             date_of_birth=date(1990, 5, 1))  # 35 at END: 35-49
    await registered_patient(session, registered_at=at(IN_RANGE, 15), gender="female",
                             date_of_birth=date(2015, 1, 1))  # 0-17
    await registered_patient(session, registered_at=at(date(2026, 3, 31), 23), gender="male",
                             date_of_birth=date(1950, 1, 1))  # 65+
    await registered_patient(session, registered_at=at(BEFORE), gender="female",
                             date_of_birth=date(1980, 1, 1))  # before the range

    report = await generate(client, admin, "patient_statistics")
    sheets = await download_xlsx(client, admin, report)

    summary = as_dict(sheets["Summary"])
    assert summary["New registrations"] == 3
    assert summary["Active patients registered up to the end of the range"] >= 4
    assert as_dict(sheets["New by gender"]) == {"male": 2, "female": 1, "other": 0,
                                                "unknown": 0}
    bands = as_dict(sheets["New by age band"])
    assert (bands["0-17"], bands["35-49"], bands["65+"], bands["18-34"]) == (1, 1, 1, 0)
    per_day = as_dict(sheets["New per day"])
    assert len(per_day) == 31
    assert sum(per_day.values()) == 3
    facts = as_dict(sheets["Report"])
    assert (facts["From"], facts["To"]) == ("2026-03-01", "2026-03-31")


async def test_revenue_sums_payments_by_day_and_method_in_a_pdf(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    patient = await registered_patient(session)
    svc = await billing_service(session, "General consultation", "100.00")
    await invoice_on(session, patient_id=patient.id, invoice_date=IN_RANGE,
                     lines=[(svc, 2, "100.00")], status="partially_paid", paid=[
                         (at(IN_RANGE, 10), "cash", "50.25"),
                         (at(IN_RANGE, 11), "credit_card", "20.10")])
    await invoice_on(session, patient_id=patient.id, invoice_date=BEFORE,
                     lines=[(svc, 1, "100.00")], status="paid", paid=[
                         (at(BEFORE), "cash", "100.00"),  # outside the range
                     ])
    await invoice_on(session, patient_id=patient.id, invoice_date=BEFORE,
                     lines=[(svc, 1, "100.00")], status="partially_paid", paid=[
                         (at(date(2026, 3, 12)), "cash", "30.00")])

    report = await generate(client, admin, "revenue")
    sheets = await download_xlsx(client, admin, report)

    summary = as_dict(sheets["Summary"])
    assert Decimal(str(summary["Total revenue"])) == Decimal("100.35")
    assert summary["Payments"] == 3
    by_method = {r[0]: (r[1], Decimal(str(r[2]))) for r in sheets["By method"][1:]}
    assert by_method == {"credit_card": (1, Decimal("20.10")), "cash": (2, Decimal("80.25"))}
    by_day = [(r[0].date() if hasattr(r[0], "date") else r[0], r[1], r[2],
               Decimal(str(r[3]))) for r in sheets["By day and method"][1:]]
    assert by_day == [(IN_RANGE, "cash", 1, Decimal("50.25")),
                      (IN_RANGE, "credit_card", 1, Decimal("20.10")),
                      (date(2026, 3, 12), "cash", 1, Decimal("30.00"))]

    pdf = await generate(client, admin, "revenue", fmt="pdf")
    resp = await client.get(pdf["download_url"], headers=admin)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF")
    text = pdf_content(resp.content)
    assert b"(Total revenue)" in text and b"(100.35)" in text


async def test_service_utilization_counts_billed_line_items_per_service(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    patient = await registered_patient(session)
    xray = await billing_service(session, "Chest X-ray", "80.00", "imaging")
    visit = await billing_service(session, "Follow-up visit", "40.00")
    await invoice_on(session, patient_id=patient.id, invoice_date=IN_RANGE,
                     lines=[(xray, 1, "80.00"), (visit, 2, "40.00")])
    await invoice_on(session, patient_id=patient.id, invoice_date=date(2026, 3, 20),
                     lines=[(xray, 2, "75.50"), (None, 1, "5.00")], status="paid",
                     paid=[(at(date(2026, 3, 20)), "cash", "156.00")])
    # Not billed: a draft, a cancelled invoice, one outside the range.
    await invoice_on(session, patient_id=patient.id, invoice_date=IN_RANGE,
                     lines=[(xray, 9, "80.00")], status="draft")
    await invoice_on(session, patient_id=patient.id, invoice_date=IN_RANGE,
                     lines=[(xray, 9, "80.00")], status="cancelled")
    await invoice_on(session, patient_id=patient.id, invoice_date=BEFORE,
                     lines=[(visit, 9, "40.00")])

    report = await generate(client, admin, "service_utilization")
    sheets = await download_xlsx(client, admin, report)

    rows = {r[0]: (r[1], r[2], r[3], Decimal(str(r[4]))) for r in sheets["By service"][1:]}
    assert rows == {
        "Chest X-ray": ("imaging", 2, 3, Decimal("231.00")),
        "Follow-up visit": ("consultation", 1, 2, Decimal("80.00")),
        "(no catalogue service)": (None, 1, 1, Decimal("5.00")),
    }
    assert sheets["By service"][1][0] == "Chest X-ray"  # highest revenue first
    summary = as_dict(sheets["Summary"])
    assert (summary["Services used"], summary["Line items"], summary["Quantity"]) == (2, 4, 6)
    assert Decimal(str(summary["Revenue"])) == Decimal("316.00")


async def test_billing_summary_splits_invoices_by_status_with_overdue_derived(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    patient = await registered_patient(session)
    svc = await billing_service(session, "Consultation", "100.00")
    pid = patient.id
    # Overdue: issued, due in the past, nothing paid.
    await invoice_on(session, patient_id=pid, invoice_date=IN_RANGE, due_date=IN_RANGE,
                     lines=[(svc, 1, "100.00")])
    # Partially paid, due far in the future: open, not overdue.
    await invoice_on(session, patient_id=pid, invoice_date=IN_RANGE,
                     due_date=date(2199, 1, 1), lines=[(svc, 2, "100.00")],
                     status="partially_paid", paid=[(at(IN_RANGE), "credit_card", "50.00")])
    await invoice_on(session, patient_id=pid, invoice_date=IN_RANGE,
                     lines=[(svc, 1, "100.00")], status="paid", tax="10.00",
                     paid=[(at(IN_RANGE), "cash", "110.00")])
    await invoice_on(session, patient_id=pid, invoice_date=IN_RANGE,
                     lines=[(svc, 1, "100.00")], status="draft")
    await invoice_on(session, patient_id=pid, invoice_date=BEFORE,
                     lines=[(svc, 5, "100.00")])  # outside the range

    report = await generate(client, admin, "billing_summary")
    sheets = await download_xlsx(client, admin, report)

    summary = {k: (Decimal(str(v)) if isinstance(v, float) else v)
               for k, v in as_dict(sheets["Summary"]).items()}
    assert summary["Invoices"] == 4
    assert Decimal(str(summary["Invoiced"])) == Decimal("410.00")
    assert Decimal(str(summary["Collected"])) == Decimal("160.00")
    assert Decimal(str(summary["Outstanding"])) == Decimal("250.00")
    assert summary["Overdue invoices"] == 1
    assert Decimal(str(summary["Overdue amount"])) == Decimal("100.00")
    by_status = {r[0]: r[1] for r in sheets["By status"][1:]}
    assert by_status == {"draft": 1, "overdue": 1, "paid": 1, "partially_paid": 1}


async def _clinic_day(session: AsyncSession) -> dict[str, Any]:
    """Two doctors' appointments, consultations, prescriptions and lab tests in March,
    plus one of each outside the range."""
    cardio = await department(session, "Cardiology")
    dr_a = await make_doctor(session, first_name="Amal", last_name="Hassan")
    dr_b = await make_doctor(session, first_name="Badr", last_name="Omar")
    p = (await registered_patient(session)).id
    d = IN_RANGE
    a1 = await appointment_on(session, patient_id=p, doctor_id=dr_a.id,
                              starts_at=at(d, 9), status="completed", department_id=cardio,
                              checked_in_at=at(d, 8, 50),
                              consultation_started_at=at(d, 9, 10))  # waited 20 min
    await appointment_on(session, patient_id=p, doctor_id=dr_a.id, starts_at=at(d, 10),
                         status="completed", department_id=cardio,
                         checked_in_at=at(d, 10), consultation_started_at=at(d, 10, 40),
                         appointment_type="follow_up")  # waited 40 min
    await appointment_on(session, patient_id=p, doctor_id=dr_a.id, starts_at=at(d, 11),
                         status="no_show", department_id=cardio)
    await appointment_on(session, patient_id=p, doctor_id=dr_b.id, starts_at=at(d, 9),
                         status="cancelled")
    await appointment_on(session, patient_id=p, doctor_id=dr_b.id, starts_at=at(d, 12),
                         status="scheduled")
    await appointment_on(session, patient_id=p, doctor_id=dr_b.id,
                         starts_at=at(BEFORE, 9), status="no_show")  # outside
    await consultation_on(session, patient_id=p, doctor_id=dr_a.id, at_=at(d, 9, 10),
                          appointment_id=a1, prescriptions=2)
    await consultation_on(session, patient_id=p, doctor_id=dr_a.id, at_=at(d, 10, 40),
                          status="in_progress", prescriptions=1)
    await consultation_on(session, patient_id=p, doctor_id=dr_b.id, at_=at(BEFORE),
                          prescriptions=4)  # outside
    await lab_test_on(session, patient_id=p, doctor_id=dr_a.id, ordered_at=at(d, 9, 30),
                      result_at=at(d, 15, 30))  # 6 h
    await lab_test_on(session, patient_id=p, doctor_id=dr_a.id, ordered_at=at(d, 10),
                      result_at=at(d + timedelta(days=1), 10))  # 24 h
    await lab_test_on(session, patient_id=p, doctor_id=dr_b.id, ordered_at=at(d, 12))
    await lab_test_on(session, patient_id=p, doctor_id=dr_b.id, ordered_at=at(BEFORE))
    await visit_on(session, at(d, 8, 45), patient_id=p)
    await visit_on(session, at(d, 9, 55), patient_id=p)
    await visit_on(session, at(BEFORE), patient_id=p)
    return {"dr_a": dr_a, "dr_b": dr_b}


async def test_appointment_summary_by_status_type_and_department(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    await _clinic_day(session)

    report = await generate(client, admin, "appointment_summary")
    sheets = await download_xlsx(client, admin, report)

    assert as_dict(sheets["Summary"]) == {"Appointments": 5}
    assert as_dict(sheets["By status"]) == {"cancelled": 1, "completed": 2, "no_show": 1,
                                            "scheduled": 1}
    assert as_dict(sheets["By type"]) == {"consultation": 4, "follow_up": 1}
    assert as_dict(sheets["By department"]) == {"Cardiology": 3, files.UNASSIGNED: 2}


async def test_doctor_performance_counts_per_doctor(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    await _clinic_day(session)

    report = await generate(client, admin, "doctor_performance")
    sheets = await download_xlsx(client, admin, report)

    header, *rows = sheets["By doctor"]
    assert header[0] == "Doctor"
    by_name = {r[0]: r[1:] for r in rows}
    # appointments, completed, no-show, cancelled, consultations, completed consultations,
    # prescriptions, lab tests ordered
    assert by_name["Amal Hassan"] == [3, 2, 1, 0, 2, 1, 3, 2]
    assert by_name["Badr Omar"] == [2, 0, 0, 1, 0, 0, 0, 1]
    assert rows[0][0] == "Amal Hassan"


async def test_operational_metrics_wait_turnaround_no_show_rate_and_visits(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    await _clinic_day(session)

    report = await generate(client, admin, "operational_metrics")
    sheets = await download_xlsx(client, admin, report)

    metrics = as_dict(sheets["Metrics"])
    assert metrics["Appointments"] == 5
    assert metrics["Appointments checked in"] == 2
    assert metrics["Average wait, check-in to consultation (minutes)"] == 30.0
    assert metrics["Longest wait, check-in to consultation (minutes)"] == 40.0
    assert metrics["No-shows"] == 1
    assert metrics["No-show rate (%)"] == 25.0  # 1 of the 4 not cancelled
    assert metrics["Lab tests ordered"] == 3
    assert metrics["Lab tests completed"] == 2
    assert metrics["Average lab turnaround (hours)"] == 15.0
    assert metrics["Longest lab turnaround (hours)"] == 24.0
    assert metrics["Visits opened"] == 2


# --- rules ---------------------------------------------------------------------------

async def test_start_after_end_is_refused_invalid_date_range(
    client: AsyncClient, admin: dict[str, str], session: AsyncSession
) -> None:
    resp = await client.post(f"{REPORTS}/generate", headers=admin, json={
        "report_type": "revenue", "start_date": "2026-03-31", "end_date": "2026-03-01"})

    assert_problem(resp, 422, "invalid_date_range")
    assert resp.json()["errors"][0]["field"] == "start_date"
    assert await session.scalar(select(func.count()).select_from(Report)) == 0


async def test_billing_officer_may_generate_only_billing_types(
    client: AsyncClient, session: AsyncSession
) -> None:
    billing = await auth_headers(client, session, Role.BILLING_OFFICER)

    refused = await client.post(f"{REPORTS}/generate", headers=billing, json={
        "report_type": "patient_statistics", "start_date": "2026-03-01",
        "end_date": "2026-03-31"})
    allowed = await generate(client, billing, "REVENUE")
    summary = await generate(client, billing, "billing_summary", fmt="PDF")

    assert_problem(refused, 403, "report_type_not_allowed")
    assert allowed["status"] == "completed"
    assert summary["status"] == "completed" and summary["format"] == "pdf"


@pytest.mark.parametrize("role", [Role.NURSE, Role.PHYSICIAN, Role.RECEPTIONIST,
                                  Role.LAB_TECHNICIAN])
async def test_clinical_and_front_desk_roles_cannot_generate(
    client: AsyncClient, session: AsyncSession, role: Role
) -> None:
    headers = await auth_headers(client, session, role)

    resp = await client.post(f"{REPORTS}/generate", headers=headers,
                             json={"report_type": "revenue"})

    assert resp.status_code == 403


async def test_a_billing_officer_lists_only_their_own_reports_and_admin_all(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    billing = await auth_headers(client, session, Role.BILLING_OFFICER)
    other = await auth_headers(client, session, Role.BILLING_OFFICER)
    mine = await generate(client, billing, "revenue", report_name="March takings")
    theirs = await generate(client, other, "revenue")
    admins = await generate(client, admin, "patient_statistics")

    listed = (await client.get(REPORTS, headers=billing)).json()
    everything = (await client.get(REPORTS, headers=admin, params={"page_size": 100})).json()
    hidden = await client.get(f"{REPORTS}/{theirs['id']}", headers=billing)
    hidden_file = await client.get(theirs["download_url"], headers=billing)

    assert [r["id"] for r in listed["items"]] == [mine["id"]]
    assert listed["total"] == 1
    assert {mine["id"], theirs["id"], admins["id"]} <= {r["id"] for r in everything["items"]}
    assert_problem(hidden, 404, "report_not_found")
    assert_problem(hidden_file, 404, "report_not_found")


async def test_list_filters_and_sort(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    a = await generate(client, admin, "revenue", report_name="Alpha")
    b = await generate(client, admin, "billing_summary", report_name="Beta")

    by_type = (await client.get(REPORTS, headers=admin,
                                params={"report_type": "billing_summary"})).json()
    by_name = (await client.get(REPORTS, headers=admin, params={"q": "alp"})).json()
    sorted_ = (await client.get(REPORTS, headers=admin,
                                params={"sort": "-report_name"})).json()
    completed = (await client.get(REPORTS, headers=admin,
                                  params={"status": "completed"})).json()
    bad_sort = await client.get(REPORTS, headers=admin, params={"sort": "password"})
    bad_range = await client.get(REPORTS, headers=admin,
                                 params={"date_from": "2026-03-02", "date_to": "2026-03-01"})

    assert [r["id"] for r in by_type["items"]] == [b["id"]]
    assert [r["id"] for r in by_name["items"]] == [a["id"]]
    assert [r["report_name"] for r in sorted_["items"]] == ["Beta", "Alpha"]
    assert completed["total"] == 2
    assert_problem(bad_sort, 422, "validation_error")
    assert_problem(bad_range, 422, "invalid_date_range")


async def test_request_bodies_are_bounded(client: AsyncClient, admin: dict[str, str]
                                          ) -> None:
    extra = await client.post(f"{REPORTS}/generate", headers=admin,
                              json={"report_type": "revenue", "file_path": "/etc/passwd"})
    unknown = await client.post(f"{REPORTS}/generate", headers=admin,
                                json={"report_type": "salaries"})
    big = await client.post(f"{REPORTS}/generate", headers=admin, json={
        "report_type": "revenue", "parameters": {"x": "y" * 5000}})
    csv_ = await client.post(f"{REPORTS}/generate", headers=admin,
                             json={"report_type": "revenue", "format": "csv"})
    control = await client.post(f"{REPORTS}/generate", headers=admin,
                                json={"report_type": "revenue", "report_name": "a\x07b"})
    nan = await client.post(
        f"{REPORTS}/generate", headers={**admin, "Content-Type": "application/json"},
        content=b'{"report_type": "revenue", "parameters": {"x": NaN}}')
    too_long = await client.post(f"{REPORTS}/generate", headers=admin, json={
        "report_type": "revenue", "start_date": "2000-01-01", "end_date": "2026-01-01"})
    ancient = await client.post(f"{REPORTS}/generate", headers=admin, json={
        "report_type": "revenue", "start_date": "0001-01-01", "end_date": "0001-01-02"})

    for resp in (extra, unknown, big, csv_, control, nan, too_long, ancient):
        assert resp.status_code == 422, resp.text


async def test_post_reports_is_the_same_request_and_defaults_the_last_30_days(
    client: AsyncClient, admin: dict[str, str]
) -> None:
    resp = await client.post(REPORTS, headers=admin, json={"report_type": "revenue",
                                                            "parameters": {"note": "x"}})

    assert resp.status_code == 202, resp.text
    body = resp.json()
    start, end = date.fromisoformat(body["start_date"]), date.fromisoformat(body["end_date"])
    assert (end - start).days == 29
    assert body["report_name"] == f"Revenue {start} to {end}"
    assert body["parameters"] == {"note": "x"}
    done = (await client.get(f"{REPORTS}/{body['id']}", headers=admin)).json()
    assert done["status"] == "completed" and done["generated_at"] is not None
    assert done["file_path"] and "/" not in done["file_path"]


# --- failure, download, update, delete -----------------------------------------------

async def test_a_failing_build_marks_the_report_failed_with_its_reason(
    client: AsyncClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(session: AsyncSession, spec: files.ReportSpec) -> files.Document:
        raise ZeroDivisionError("secret patient detail")

    monkeypatch.setitem(files.BUILDERS, files.HcmsReportType.REVENUE, broken)

    report = await generate(client, admin, "revenue")
    download = await client.get(report["download_url"], headers=admin)

    assert report["status"] == "failed"
    assert report["failure_reason"] == "Report generation failed (ZeroDivisionError)"
    assert report["generated_at"] is None and report["file_path"] is None
    assert_problem(download, 409, "report_not_completed")


async def test_put_renames_and_audits_old_and_new_values(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    report = await generate(client, admin, "revenue", report_name="Old name")

    resp = await client.put(f"{REPORTS}/{report['id']}", headers=admin,
                            json={"report_name": "New name", "parameters": {"k": 1}})
    refused = await client.put(f"{REPORTS}/{report['id']}", headers=admin,
                               json={"status": "completed"})

    assert resp.status_code == 200, resp.text
    assert resp.json()["report_name"] == "New name"
    assert resp.json()["parameters"] == {"k": 1}
    assert refused.status_code == 422
    event = (await session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "report", AuditEvent.action == "update"))).one()
    changes = event.changes or {}
    assert changes["before"]["report_name"] == "Old name"
    assert changes["after"]["report_name"] == "New name"


async def test_delete_removes_the_row_and_the_file_and_is_audited(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str], _exports_dir: Path
) -> None:
    report = await generate(client, admin, "billing_summary")
    stored = _exports_dir / report["file_path"]
    assert stored.is_file()

    resp = await client.delete(f"{REPORTS}/{report['id']}", headers=admin)
    again = await client.get(f"{REPORTS}/{report['id']}", headers=admin)

    assert resp.status_code == 204
    assert not stored.exists()
    assert_problem(again, 404, "report_not_found")
    actions = set((await session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "report",
        AuditEvent.entity_id == report["id"]))).all())
    assert {"create", "export", "delete"} <= {str(a) for a in actions}


async def test_download_of_a_report_still_generating_is_409(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    user = await make_user(session, Role.ADMIN)
    row = Report(report_name="Pending", report_type="revenue", generated_by_user_id=user.id,
                 start_date=START, end_date=END, parameters={}, format="pdf",
                 status="generating")
    session.add(row)
    await session.commit()

    resp = await client.get(f"{REPORTS}/{row.id}/download", headers=admin)
    got = await client.get(f"{REPORTS}/{row.id}", headers=admin)

    assert_problem(resp, 409, "report_not_completed")
    assert got.headers["retry-after"] == "1"


async def test_unknown_report_is_404(client: AsyncClient, admin: dict[str, str]) -> None:
    resp = await client.get(f"{REPORTS}/{uuid.uuid4()}", headers=admin)

    assert_problem(resp, 404, "report_not_found")


async def test_a_new_billing_officer_lists_nothing(client: AsyncClient,
                                                   session: AsyncSession) -> None:
    user = await make_user(session, Role.BILLING_OFFICER)
    tokens = await login(client, user.username)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    resp = await client.get(REPORTS, headers=headers)

    assert resp.status_code == 200
    assert resp.json() == {"items": [], "total": 0, "page": 1, "page_size": 20,
                           "total_exact": True}


async def test_an_unreachable_broker_fails_the_report_instead_of_leaving_it_generating(
    client: AsyncClient, app: FastAPI, admin: dict[str, str]
) -> None:
    # Nothing listens on port 1: the send is refused at once.
    app.state.settings = app.state.settings.model_copy(
        update={"broker_url": "redis://127.0.0.1:1/0"})

    report = await generate(client, admin, "revenue")

    assert report["status"] == "failed"
    assert report["failure_reason"] == "The report queue is unavailable"


async def test_a_second_delivery_of_the_same_report_does_nothing(
    app: FastAPI, session: AsyncSession, tmp_path: Path
) -> None:
    from hms.reports import jobs

    user = await make_user(session, Role.ADMIN)
    row = Report(report_name="Once", report_type="billing_summary",
                 generated_by_user_id=user.id, start_date=START, end_date=END,
                 parameters={}, format="xlsx", status="generating")
    session.add(row)
    await session.commit()
    sessions = jobs.job_sessions(app)

    first = await jobs.run_generated_report(sessions, row.id, exports_dir=tmp_path)
    second = await jobs.run_generated_report(sessions, row.id, exports_dir=tmp_path)

    assert first == "completed"
    assert second is None
    assert len(list(tmp_path.iterdir())) == 1  # noqa: ASYNC240 (test assertion)


async def test_reports_read_what_the_real_workflows_wrote(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    """Appointment -> check-in -> vitals -> consultation completed with a prescription and a
    lab order -> invoice issued and part paid, all through the owning modules; the reports
    count each step once."""
    from hms.clinical import service as clinical_service
    from tests.billing.factories import make_invoice
    from tests.clinical.factories import completed

    care = await completed(client, session, lab_tests=[{"test_name": "Full blood count"}])
    consultation = await clinical_service.get_consultation(
        session, uuid.UUID(care.consultation_id))
    await make_invoice(session, consultation=consultation, payments=["60.00"])
    today = datetime.now(UTC).date()
    end = today + timedelta(days=2)

    doctors = await download_xlsx(client, admin, await generate(
        client, admin, "doctor_performance", start=today, end=end))
    ops = as_dict((await download_xlsx(client, admin, await generate(
        client, admin, "operational_metrics", start=today, end=end)))["Metrics"])
    revenue = as_dict((await download_xlsx(client, admin, await generate(
        client, admin, "revenue", start=today, end=end)))["Summary"])
    billing = as_dict((await download_xlsx(client, admin, await generate(
        client, admin, "billing_summary", start=today, end=end)))["Summary"])

    name = f"{care.doctor.first_name} {care.doctor.last_name}"
    assert {r[0]: r[1:] for r in doctors["By doctor"][1:]}[name] == [1, 1, 0, 0, 1, 1, 1, 1]
    assert (ops["Appointments"], ops["Appointments checked in"], ops["Waits measured"],
            ops["Lab tests ordered"], ops["Visits opened"]) == (1, 1, 1, 1, 1)
    assert ops["Average wait, check-in to consultation (minutes)"] >= 0
    assert (Decimal(str(revenue["Total revenue"])), revenue["Payments"]) == (
        Decimal("60.00"), 1)
    assert (Decimal(str(billing["Invoiced"])), Decimal(str(billing["Collected"])),
            Decimal(str(billing["Outstanding"]))) == (
        Decimal("100.00"), Decimal("60.00"), Decimal("40.00"))
