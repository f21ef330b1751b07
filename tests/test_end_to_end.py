"""Seed 001's five acceptance scenarios, over HTTP, on imported Synthea patients.

Real commits (the FHIR importer and the report jobs use their own transactions), real
logins; every table is wiped afterwards by the ``committed_app`` fixture.

The day itself is :func:`run_visit_archive_day`, reused by ``tests/security/test_logs.py``
which runs it with every logger at DEBUG and searches the logs for the patient values it
returns.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import uuid
from datetime import date
from pathlib import Path

import openpyxl
from httpx import AsyncClient
from reportlab.pdfgen import canvas

from hms.audit import service as audit
from hms.core.permissions import Role
from hms.db.session import unit_of_work
from hms.fhir import service as fhir_service
from tests.identity.factories import login, make_user
from tests.patients.factories import mobile, national_id

DICOM = Path(__file__).parent / "documents" / "files" / "CT_small.dcm"


def _bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _scanned_pdf() -> bytes:
    buf = io.BytesIO()
    page = canvas.Canvas(buf)
    page.drawString(72, 720, "SH.MR.FRM.05 scanned nursing form")
    page.showPage()
    page.save()
    return buf.getvalue()


async def _poll_job(client: AsyncClient, h: dict[str, str], status_url: str) -> dict:
    for _ in range(200):
        job = (await client.get(status_url, headers=h)).json()
        if job["status"] in ("completed", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"export job did not finish: {job}")


def _unmasked(*values: object) -> list[str]:
    return [str(v) for v in values if v not in (None, "") and "*" not in str(v)]


async def run_visit_archive_day(client: AsyncClient, db, tmp_path: Path) -> list[str]:
    """Seed 001's five scenarios with assertions; returns every patient value used (names,
    identifiers, dates of birth, clinical values and text, file names) as strings."""
    # Real input: the demo Synthea bundles.
    bundles = tmp_path / "bundles"
    shutil.copytree(fhir_service.demo_bundle_dir(), bundles)
    report = await fhir_service.import_paths(db, [bundles])
    assert report.rejected == []
    assert report.total("created")["patients"] == 8

    async with unit_of_work(db) as s:
        admin = await make_user(s, Role.ADMIN)
    admin_h = _bearer(await login(client, admin.username))

    # The admin creates the staff accounts (FR-010).
    for username, role in (("nurse.amal", "nurse"), ("dr.karim", "physician")):
        resp = await client.post("/api/v1/admin/users", headers=admin_h, json={
            "username": username, "password": "Sunrise-Shift-0630", "role": role})
        assert resp.status_code == 201, resp.text
    nurse_h = _bearer(await login(client, "nurse.amal", "Sunrise-Shift-0630"))
    doctor_h = _bearer(await login(client, "dr.karim", "Sunrise-Shift-0630"))

    # Scenario 1: the nurse finds an imported patient, and creates one who is missing.
    found = await client.get("/api/v1/patients/search", headers=nurse_h,
                             params={"name": "jacobi"})
    assert found.status_code == 200 and found.json()["total"] == 1
    imported = found.json()["items"][0]
    by_number = await client.get("/api/v1/patients/search", headers=nurse_h,
                                 params={"medical_number": imported["patient_number"]})
    assert [p["id"] for p in by_number.json()["items"]] == [imported["id"]]

    ssn = national_id(date(1987, 3, 14), gender="female", governorate="02")
    phone = mobile("015")
    missing = await client.get("/api/v1/patients/search", headers=nurse_h,
                               params={"ssn": ssn})
    assert missing.json()["total"] == 0
    created = await client.post("/api/v1/patients", headers=nurse_h, json={
        "ssn": ssn, "mobile_number": phone, "full_name": "Mona Abdel Rahman",
        "date_of_birth": "1987-03-14", "gender": "female"})
    assert created.status_code == 201, created.text
    patient = created.json()
    assert patient["patient_number"].startswith("PT-")
    for params in ({"ssn": ssn}, {"mobile": phone},
                   {"medical_number": patient["patient_number"]}, {"q": ssn}):
        hit = await client.get("/api/v1/patients/search", headers=nurse_h, params=params)
        assert [p["id"] for p in hit.json()["items"]] == [patient["id"]], params

    # Scenario 2: a visit and the SH.MR.FRM.05 nursing assessment.
    visit = await client.post("/api/v1/visits", headers=nurse_h, json={
        "patient_id": ssn, "department": "Radiology", "chief_complaint": "Fall at home"})
    assert visit.status_code == 201, visit.text
    visit_id = visit.json()["id"]
    other = await client.post("/api/v1/visits", headers=nurse_h,
                              json={"patient_id": imported["patient_number"]})
    assert other.status_code == 201
    frm05 = await client.post(f"/api/v1/visits/{visit_id}/nursing-assessment",
                              headers=nurse_h, json={
        "vital_signs": {"temperature_celsius": 37.2, "pulse_bpm": 88,
                        "blood_pressure_systolic": 132, "blood_pressure_diastolic": 84,
                        "respiratory_rate_per_min": 18, "oxygen_saturation_percent": 97,
                        "weight_kg": 70, "height_cm": 165},
        "pain_assessment": {"pain_score": 6, "site": "left hip", "character": "sharp",
                            "onset": "sudden", "duration": "3 hours"},
        "fall_risk_assessment": {"history_of_falling": True, "secondary_diagnosis": False,
                                 "ambulatory_aid": "cane", "iv_therapy": False,
                                 "gait": "impaired", "mental_status": "oriented_to_own_ability"},
        "notes": "Fell in the kitchen this morning."})
    assert frm05.status_code == 201, frm05.text
    form = frm05.json()
    assert form["vital_signs"]["bmi"] == 25.7
    assert form["fall_risk_assessment"]["total_score"] == 60
    assert form["fall_risk_assessment"]["risk_level"] == "high"
    assert form["submission"]["form_code"] == "SH.MR.FRM.05"

    # Scenario 3: the physician reviews open visits, fills SH.MR.FRM.04, diagnoses, closes.
    listing = await client.get("/api/v1/visits", headers=doctor_h, params={"page_size": 100})
    statuses = [v["status"] for v in listing.json()["items"]]
    assert statuses[:2] == ["open", "open"]
    assert visit_id in [v["id"] for v in listing.json()["items"][:2]]
    assert set(statuses[2:]) <= {"closed", "cancelled", "in_progress"}
    frm04 = await client.post(f"/api/v1/visits/{visit_id}/radiology-assessment",
                              headers=doctor_h, json={
        "modality": "XR", "body_region": "Left hip", "clinical_indication": "Fall, hip pain",
        "contrast_used": False, "findings": "Undisplaced femoral neck fracture",
        "impression": "Left femoral neck fracture", "recommendation": "Orthopaedic review"})
    assert frm04.status_code == 201, frm04.text
    current = await client.get(f"/api/v1/visits/{visit_id}", headers=doctor_h)
    diagnosed = await client.put(f"/api/v1/visits/{visit_id}", headers={
        **doctor_h, "If-Match": current.headers["etag"]}, json={
        "diagnosis": "Fracture of neck of left femur", "diagnosis_icd10_code": "S72.002A"})
    assert diagnosed.status_code == 200, diagnosed.text
    closed = await client.put(f"/api/v1/visits/{visit_id}", headers=doctor_h, json={
        "status": "closed", "version": diagnosed.json()["version"]})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    locked = await client.put(f"/api/v1/visits/{visit_id}/nursing-assessment",
                              headers=nurse_h, json={"notes": "late edit", "version": 1})
    assert locked.status_code == 409

    # Scenario 4: scanned paper and a DICOM study, stored under generated names.
    pdf = _scanned_pdf()
    up_pdf = await client.post(f"/api/v1/visits/{visit_id}/documents", headers=nurse_h,
                               files={"file": ("frm05-scan.pdf", pdf, "application/pdf")},
                               data={"document_type": "scan"})
    assert up_pdf.status_code == 201, up_pdf.text
    up_dcm = await client.post(f"/api/v1/visits/{visit_id}/documents", headers=nurse_h,
                               files={"file": ("ct.dcm", DICOM.read_bytes(),
                                               "application/octet-stream")})
    assert up_dcm.status_code == 201, up_dcm.text
    assert up_dcm.json()["dicom"]["modality"] == "CT"
    download = await client.get(up_pdf.json()["download_url"], headers=doctor_h)
    assert download.content == pdf
    assert download.headers["content-disposition"].startswith("attachment")

    history = await client.get(f"/api/v1/patients/{ssn}/history", headers=doctor_h)
    assert history.status_code == 200
    [h_visit] = history.json()["visits"]
    assert {f["form_code"] for f in h_visit["forms"]} == {"SH.MR.FRM.05", "SH.MR.FRM.04"}
    assert h_visit["diagnoses"][0]["code"] == "S72.002A"
    assert len(h_visit["documents"]) == 2

    # Scenario 5: the admin reads every report and downloads every export format.
    dash = await client.get("/api/v1/reports/dashboard", headers=admin_h)
    assert dash.status_code == 200, dash.text
    for path in ("/api/v1/reports/patients/statistics", "/api/v1/reports/visits/volume",
                 "/api/v1/reports/clinical/assessments"):
        resp = await client.get(path, headers=admin_h)
        assert resp.status_code == 200, (path, resp.text)
    assessments = (await client.get("/api/v1/reports/clinical/assessments",
                                    headers=admin_h)).json()
    assert "high" in str(assessments)
    for report_type in ("dashboard", "patients_statistics", "visits_volume",
                        "clinical_assessments"):
        for fmt in ("csv", "xlsx", "pdf"):
            started = await client.get(f"/api/v1/reports/export/{report_type}",
                                       headers=admin_h, params={"format": fmt})
            assert started.status_code == 202, started.text
            job = await _poll_job(client, admin_h, started.json()["status_url"])
            assert job["status"] == "completed", job
            file = await client.get(started.json()["download_url"], headers=admin_h)
            assert file.status_code == 200
            if fmt == "csv":
                assert list(csv.reader(io.StringIO(file.text)))
            elif fmt == "xlsx":
                assert openpyxl.load_workbook(io.BytesIO(file.content)).sheetnames
            else:
                assert file.content.startswith(b"%PDF")

    # Everything the staff did to patient data left audit events.
    async with unit_of_work(db) as s:
        assert await audit.count_events(s, entity_type="visit", entity_id=visit_id,
                                        action="update") == 2
        assert await audit.count_events(s, patient_id=uuid.UUID(patient["id"]),
                                        action="download") == 1

    return [
        # the registered patient and the imported one found by name
        ssn, phone, "Mona Abdel Rahman", "Abdel Rahman", "1987-03-14", patient["patient_number"],
        *_unmasked(imported.get("full_name"), imported.get("given_name"),
                   imported.get("family_name"), imported.get("national_id"),
                   imported.get("mobile"), imported.get("date_of_birth"),
                   imported["patient_number"]),
        # SH.MR.FRM.05 (vital signs, BMI, pain, Morse total, notes)
        "37.2", "88", "132", "84", "18", "97", "165", "25.7", "60", "left hip", "3 hours",
        "Fell in the kitchen this morning.", "Fall at home", "late edit",
        # SH.MR.FRM.04 and the diagnosis
        "Fall, hip pain", "Undisplaced femoral neck fracture", "Left femoral neck fracture",
        "Orthopaedic review", "Fracture of neck of left femur", "S72.002A",
        # documents: client file names, the scanned text, the DICOM header's patient
        "frm05-scan.pdf", "ct.dcm", "scanned nursing form", "CompressedSamples^CT1", "1CT1",
    ]


async def test_a_day_at_the_visit_archive(committed_client: AsyncClient, db, tmp_path):
    await run_visit_archive_day(committed_client, db, tmp_path)
