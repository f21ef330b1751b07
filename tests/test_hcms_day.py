"""Seed 004's day (section 10), over HTTP, with the seed's own field names and roles.

Receptionist registers a patient (the medical record comes with it) and books; checks the
patient in (a visit opens); the nurse records vital signs; the doctor consults, prescribes
(one drug the patient is allergic to, saved only with the override and answered with the
warning), orders two lab tests and completes; the lab walks one test to completed with a
result; the billing officer invoices from the consultation, issues, takes a partial then a
full payment; the admin generates every report type and downloads each file. Real commits
(report jobs run in their own transactions); every table is wiped afterwards.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import openpyxl
from httpx import AsyncClient

from hms.core.permissions import Role
from hms.db.session import unit_of_work
from tests.identity.factories import login, make_user

REPORT_TYPES = ("patient_statistics", "revenue", "appointment_summary", "service_utilization",
                "doctor_performance", "billing_summary", "operational_metrics")
PASSWORD = "Morning-Round-0715"


def _bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def _ok(resp, status: int = 200) -> dict:
    assert resp.status_code == status, f"{resp.request.method} {resp.request.url}: {resp.text}"
    return resp.json()


async def _wait_report(client: AsyncClient, h: dict[str, str], report_id: str) -> dict:
    for _ in range(400):
        report = await _ok(await client.get(f"/api/v1/reports/{report_id}", headers=h))
        if report["status"] in ("completed", "failed"):
            return report
        await asyncio.sleep(0.05)
    raise AssertionError(f"report did not finish: {report}")


async def run_hcms_day(client: AsyncClient, db) -> dict[str, object]:
    """Seed 004 section 10 end to end; returns the ids it made (for other tests)."""
    async with unit_of_work(db) as s:
        admin = await make_user(s, Role.ADMIN)
    admin_h = _bearer(await login(client, admin.username))

    # The administrator configures the hospital: a department, an insurer, the services.
    dept = await _ok(await client.post("/api/v1/departments", headers=admin_h, json={
        "name": "Internal Medicine", "description": "Adult outpatient clinics"}), 201)
    insurer = await _ok(await client.post("/api/v1/insurance-providers", headers=admin_h, json={
        "name": "Nile Health Insurance", "phone": "0223456789",
        "email": "claims@nile-health.example", "coverage_policy": "80% outpatient"}), 201)
    consult_service = await _ok(await client.post("/api/v1/services", headers=admin_h, json={
        "name": "Outpatient consultation", "service_type": "consultation",
        "default_price": "350.00", "default_duration_minutes": 30,
        "department_id": dept["id"]}), 201)
    cbc_service = await _ok(await client.post("/api/v1/services", headers=admin_h, json={
        "name": "Complete blood count", "service_type": "lab_test",
        "default_price": "120.50"}), 201)

    # Staff accounts the seed 004 way: e-mail, first and last name, role label, no username.
    staff = {}
    for key, role in (("reception", "RECEPTIONIST"), ("nurse", "NURSE"),
                      ("doctor", "DOCTOR"), ("lab", "lab_technician"),
                      ("billing", "BILLING_OFFICER")):
        user = await _ok(await client.post("/api/v1/users", headers=admin_h, json={
            "email": f"{key}@hospital.example", "password": PASSWORD,
            "first_name": key.title(), "last_name": "Staff", "role": role,
            "phone": "01012345678", "department_id": dept["id"]}), 201)
        staff[key] = user
    assert staff["doctor"]["role"] == "physician"
    # Login accepts the e-mail (seed 004 users have no username).
    reception_h = _bearer(await login(client, "reception@hospital.example", PASSWORD))
    nurse_h = _bearer(await login(client, "nurse@hospital.example", PASSWORD))
    doctor_h = _bearer(await login(client, "doctor@hospital.example", PASSWORD))
    lab_h = _bearer(await login(client, "lab@hospital.example", PASSWORD))
    billing_h = _bearer(await login(client, "billing@hospital.example", PASSWORD))

    # 1. Registration: the receptionist creates the patient; the medical record comes too.
    patient = await _ok(await client.post("/api/v1/patients", headers=reception_h, json={
        "first_name": "Hoda", "last_name": "Mansour", "date_of_birth": "1979-06-02",
        "gender": "FEMALE", "phone": "01123456789", "email": "hoda.m@example.com",
        "address": "12 Tahrir St", "city": "Cairo", "state": "Cairo", "postal_code": "11511",
        "country": "Egypt", "emergency_contact_name": "Omar Mansour",
        "emergency_contact_phone": "01234567890", "emergency_contact_relationship": "brother",
        "insurance_provider_id": insurer["id"], "insurance_policy_number": "NHI-55-1200"}),
        201)
    assert patient["patient_number"].startswith("PT-")
    records = await _ok(await client.get("/api/v1/medical-records", headers=doctor_h,
                                         params={"patient_id": patient["id"]}))
    assert records["total"] == 1
    record = records["items"][0]
    # The doctor records the known allergy on the medical record.
    await _ok(await client.put(f"/api/v1/medical-records/{record['id']}", headers=doctor_h,
                               json={"allergies": "Penicillin; latex", "blood_type": "A+",
                                     "version": record["version"]}))

    # 2. Scheduling: the receptionist books the doctor for later today (or tomorrow).
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0,
                                                              microsecond=0)
    appointment = await _ok(await client.post("/api/v1/appointments", headers=reception_h,
                                              json={
        "patient_id": patient["id"], "doctor_id": staff["doctor"]["id"],
        "department_id": dept["id"], "appointment_date": start.date().isoformat(),
        "appointment_time": start.time().isoformat(), "duration_minutes": 30,
        "appointment_type": "consultation", "reason": "Fever and cough for three days"}), 201)
    assert appointment["status"] == "scheduled"

    # 3. Check-in opens a visit; the nurse records vital signs against the appointment.
    checked_in = await _ok(await client.post(
        f"/api/v1/appointments/{appointment['id']}/check-in", headers=reception_h))
    assert checked_in["status"] == "checked_in" and checked_in["visit_id"]
    vitals = await _ok(await client.post("/api/v1/vital-signs", headers=nurse_h, json={
        "patient_id": patient["id"], "appointment_id": appointment["id"],
        "systolic_bp": 128, "diastolic_bp": 82, "pulse_rate": 96,
        "temperature_celsius": 38.4, "respiratory_rate": 20, "oxygen_saturation": 96,
        "weight_kg": 71.5, "height_cm": 164}), 201)
    assert vitals["visit_id"] == checked_in["visit_id"]

    # 4. The doctor consults, prescribes, orders two lab tests and completes.
    consultation = await _ok(await client.post("/api/v1/consultations", headers=doctor_h, json={
        "appointment_id": appointment["id"], "patient_id": patient["id"],
        "doctor_id": staff["doctor"]["id"], "consultation_date": start.isoformat(),
        "chief_complaint": "Fever and productive cough",
        "present_illness": "Three days of fever up to 38.8 C",
        "examination_findings": "Crackles at the right base"}), 201)
    after = await _ok(await client.get(f"/api/v1/appointments/{appointment['id']}",
                                       headers=reception_h))
    assert after["status"] == "in_progress"
    completion = {
        "diagnosis": "Community-acquired pneumonia (J18.9)",
        "treatment_plan": "Oral antibiotics, fluids, review in one week",
        "follow_up_required": True,
        "follow_up_date": (start.date() + timedelta(days=7)).isoformat(),
        "prescriptions": [
            {"medication_name": "Amoxicillin", "dosage": "500 mg", "frequency": "every 8 h",
             "duration": "7 days", "quantity": 21, "route": "oral"},
            {"medication_name": "Paracetamol", "dosage": "1 g", "frequency": "every 6 h as needed",
             "duration": "5 days", "quantity": 20, "route": "oral"},
        ],
        "lab_tests": [{"test_name": "Complete blood count", "test_type": "hematology"},
                      {"test_name": "C-reactive protein", "test_type": "chemistry"}],
    }
    refused = await client.post(f"/api/v1/consultations/{consultation['id']}/complete",
                                headers=doctor_h, json=completion)
    assert refused.status_code in (409, 422), refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "allergy" in refused.json()["type"]
    done = await _ok(await client.post(f"/api/v1/consultations/{consultation['id']}/complete",
                                       headers=doctor_h,
                                       json={**completion, "allergy_override": True}))
    assert done["status"] == "completed"
    assert [w["medication"] for w in done["warnings"]] == ["Amoxicillin"]
    details = await _ok(await client.get(f"/api/v1/consultations/{consultation['id']}/details",
                                         headers=doctor_h))
    assert sorted(p["medication_name"] for p in details["prescriptions"]) == [
        "Amoxicillin", "Paracetamol"]
    assert len(details["lab_tests"]) == 2
    appt_done = await _ok(await client.get(f"/api/v1/appointments/{appointment['id']}",
                                           headers=reception_h))
    assert appt_done["status"] == "completed"

    # 5. The lab: collect, process, result (no skipping).
    cbc = next(t for t in details["lab_tests"] if t["test_name"] == "Complete blood count")
    assert cbc["status"] == "ordered"
    await _ok(await client.post(f"/api/v1/lab-tests/{cbc['id']}/collect-sample", headers=lab_h))
    await _ok(await client.put(f"/api/v1/lab-tests/{cbc['id']}", headers=lab_h,
                               json={"status": "in_progress"}))
    resulted = await _ok(await client.post(f"/api/v1/lab-tests/{cbc['id']}/enter-results",
                                           headers=lab_h, json={
        "result_value": "13.2", "result_unit": "x10^9/L", "reference_range": "4.0-11.0"}))
    assert resulted["status"] == "completed" and resulted["result_date"]

    # 6. Billing: invoice from the completed consultation, issue, partial then full payment.
    invoice = await _ok(await client.post("/api/v1/invoices", headers=billing_h, json={
        "consultation_id": consultation["id"],
        "due_date": (date.today() + timedelta(days=30)).isoformat(),
        "tax_amount": "35.00", "discount_amount": "50.00",
        "line_items": [
            {"service_id": consult_service["id"], "quantity": 1},
            {"service_id": cbc_service["id"], "description": "CBC", "quantity": 2},
        ]}), 201)
    assert invoice["status"] == "draft" and invoice["patient_id"] == patient["id"]
    assert Decimal(invoice["subtotal"]) == Decimal("591.00")  # 350 + 2 x 120.50
    assert Decimal(invoice["total_amount"]) == Decimal("576.00")  # + 35 - 50
    issued = await _ok(await client.post(f"/api/v1/invoices/{invoice['id']}/issue",
                                         headers=billing_h))
    assert issued["status"] == "issued"
    await _ok(await client.post("/api/v1/payments/process", headers=billing_h, json={
        "invoice_id": invoice["id"], "amount": "200.00", "payment_method": "cash"}), 201)
    partial = await _ok(await client.get(f"/api/v1/invoices/{invoice['id']}", headers=billing_h))
    assert partial["status"] == "partially_paid"
    assert Decimal(partial["balance_due"]) == Decimal("376.00")
    await _ok(await client.post("/api/v1/payments/process", headers=billing_h, json={
        "invoice_id": invoice["id"], "amount": "376.00", "payment_method": "credit_card",
        "transaction_reference": "POS-778812"}), 201)
    paid = await _ok(await client.get(f"/api/v1/invoices/{invoice['id']}/details",
                                      headers=billing_h))
    assert paid["status"] == "paid" and Decimal(paid["balance_due"]) == 0
    assert Decimal(paid["amount_paid"]) == Decimal("576.00")
    assert len(paid["payments"]) == 2 and len(paid["line_items"]) == 2

    # 7. The admin generates every report type over today and downloads each file.
    today = date.today().isoformat()
    for report_type in REPORT_TYPES:
        for fmt in ("xlsx", "pdf"):
            queued = await _ok(await client.post("/api/v1/reports/generate", headers=admin_h,
                                                 json={"report_type": report_type,
                                                       "start_date": today, "end_date": today,
                                                       "format": fmt}), 202)
            assert queued["status"] in ("generating", "completed")
            report = await _wait_report(client, admin_h, queued["id"])
            assert report["status"] == "completed", report
            file = await client.get(f"/api/v1/reports/{report['id']}/download",
                                    headers=admin_h)
            assert file.status_code == 200, file.text
            if fmt == "pdf":
                assert file.content.startswith(b"%PDF")
            else:
                book = openpyxl.load_workbook(io.BytesIO(file.content), read_only=True)
                cells = [str(c) for sheet in book.worksheets
                         for row in sheet.iter_rows(values_only=True)
                         for c in row if c is not None]
                if report_type == "revenue":
                    assert any("576" in c for c in cells), "|".join(cells)
                if report_type == "patient_statistics":
                    assert any(c == "1" for c in cells), "|".join(cells)

    # The trail: every step is there, with old and new values for the changes.
    trail = await _ok(await client.get("/api/v1/audit-logs", headers=admin_h,
                                       params={"entity_type": "invoice", "limit": 100}))
    assert {e["action"] for e in trail["items"]} >= {"create", "issue"}
    return {"patient_id": patient["id"], "invoice_id": invoice["id"],
            "consultation_id": consultation["id"], "appointment_id": appointment["id"]}


async def test_a_day_at_the_hcms(committed_client: AsyncClient, db):
    await run_hcms_day(committed_client, db)
