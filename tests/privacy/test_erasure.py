"""Erasure requests honour the 7-year retention after the last visit and legal holds; an
honoured one leaves no name, identifier or document file, and keeps every audit row."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from hms.audit import service as audit
from hms.config import Settings
from hms.privacy.service import add_years
from tests.documents.factories import stored_files
from tests.privacy.factories import Day, clinical_day


def _erase_url(ref: str) -> str:
    return f"/api/v1/patients/{ref}/erasure-requests"


async def _age_the_record(session, day: Day, years: int) -> datetime:
    """Move the patient's visit ``years`` back (as if it happened then)."""
    when = datetime.now(UTC) - timedelta(days=365 * years + 10)
    await session.execute(
        text("UPDATE patient_visits SET started_at = :at, ended_at = NULL WHERE id = :id"),
        {"at": when, "id": uuid.UUID(day.visit["id"]) if session.bind.dialect.name ==
         "postgresql" else uuid.UUID(day.visit["id"]).hex})
    await session.commit()
    return when


async def _request(client, day: Day, **body) -> dict:
    resp = await client.post(_erase_url(day.patient["id"]), headers=day.admin,
                             json={"reason": "Written request ref. ER-2025-17", **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_denied_within_seven_years_of_the_last_visit(client, session) -> None:
    day = await clinical_day(client, session)
    result = await _request(client, day)
    last_visit = datetime.fromisoformat(day.visit["started_at"]).date()
    assert result["outcome"] == "denied_retention"
    assert result["retention_years"] == 7
    assert result["earliest_erasure_date"] == add_years(last_visit, 7).isoformat()
    assert result["documents_erased"] == 0
    patient = (await client.get(f"/api/v1/patients/{day.patient['id']}",
                                headers=day.admin)).json()
    assert patient["full_name"] == day.patient["full_name"] and patient["erased_at"] is None


async def test_denied_under_legal_hold_then_completed_when_lifted(client, session) -> None:
    day = await clinical_day(client, session)
    await _age_the_record(session, day, 8)
    hold_url = f"/api/v1/patients/{day.patient['id']}/legal-hold"
    resp = await client.put(hold_url, headers=day.admin,
                            json={"active": True, "reason": "Litigation hold L-88"})
    assert resp.status_code == 200 and resp.json()["active"] is True
    assert (await client.get(hold_url, headers=day.admin)).json()["reason"] == \
        "Litigation hold L-88"

    assert (await _request(client, day))["outcome"] == "denied_legal_hold"

    resp = await client.put(hold_url, headers=day.admin, json={"active": False})
    assert resp.status_code == 200 and resp.json()["active"] is False
    assert (await _request(client, day))["outcome"] == "completed"
    listed = (await client.get("/api/v1/erasure-requests", headers=day.admin, params={
        "patient": day.patient["id"]})).json()
    assert [r["outcome"] for r in listed["items"]] == ["completed", "denied_legal_hold"]
    holds = await audit.list_events(session, entity_type="legal_hold", action="update")
    assert [e.changes["after"]["active"] for e in holds] == [False, True]


async def test_completed_erasure_of_an_old_record(client, session, settings: Settings) -> None:
    earlier_files = stored_files(settings.documents_dir)
    day = await clinical_day(client, session)
    when = await _age_the_record(session, day, 8)
    patient_id = uuid.UUID(day.patient["id"])
    [scan] = stored_files(settings.documents_dir) - earlier_files
    audit_before = await audit.count_events(session)
    verified_before = await audit.verify_chain(session)

    result = await _request(client, day, requested_by_patient=True)

    assert result["outcome"] == "completed"
    assert result["documents_erased"] == 1
    assert result["last_visit_at"].startswith(when.date().isoformat())
    assert result["earliest_erasure_date"] == add_years(when.date(), 7).isoformat()

    # The patient row: no name, no identifier, no contact detail left, in any column.
    row = (await session.execute(text("SELECT * FROM patients WHERE id = :id"), {
        "id": patient_id if session.bind.dialect.name == "postgresql" else patient_id.hex,
    })).mappings().one()
    secrets = [day.patient[k] for k in ("national_id", "mobile", "given_name", "family_name",
                                        "full_name", "patient_number")]
    stored = " ".join(str(v) for v in row.values() if v is not None)
    assert all(s and s not in stored for s in secrets)
    for column in ("national_id", "national_id_bidx", "mobile", "mobile_bidx", "given_name",
                   "family_name", "date_of_birth", "source_id"):
        if column in row:
            assert row[column] is None, column
    assert row["is_active"] in (False, 0) and row["erased_at"] is not None

    patient = (await client.get(f"/api/v1/patients/{day.patient['id']}",
                                headers=day.admin)).json()
    assert patient["full_name"] == "Erased patient" and patient["national_id"] is None
    assert patient["patient_number"].startswith("ERASED-")
    search = (await client.get("/api/v1/patients/search", headers=day.nurse,
                               params={"ssn": day.patient["national_id"]})).json()
    assert search["total"] == 0

    # The document: the file is gone, the row says so, the download answers 410.
    assert not scan.exists()
    doc = (await client.get(f"/api/v1/documents/{day.document['id']}",
                            headers=day.admin)).json()
    assert doc["file_erased_at"] is not None and doc["original_filename"] is None
    resp = await client.get(f"/api/v1/documents/{day.document['id']}/download",
                            headers=day.admin)
    assert resp.status_code == 410 and resp.json()["code"] == "document_erased"

    # The clinical record keeps its structure; the audit trail is intact and longer.
    visit = (await client.get(f"/api/v1/visits/{day.visit['id']}", headers=day.admin)).json()
    assert visit["patient_id"] == day.patient["id"]
    assert visit["diagnosis_icd10_code"] == "J18.9"
    assert await audit.count_events(session) > audit_before
    verified = await audit.verify_chain(session)
    assert verified.ok and verified.checked > verified_before.checked
    [erase] = await audit.list_events(session, action="erase", patient_id=patient_id)
    assert "national_id" in erase.changes["fields"]
    assert day.patient["national_id"] not in str(erase.changes)

    # Once erased, a second request is a conflict.
    resp = await client.post(_erase_url(day.patient["id"]), headers=day.admin,
                             json={"reason": "again"})
    assert resp.status_code == 409 and resp.json()["code"] == "patient_already_erased"


async def test_requests_are_audited_without_the_reason(client, session) -> None:
    day = await clinical_day(client, session)
    result = await _request(client, day, reason="Patient letter mentions a diagnosis")
    [event] = await audit.list_events(session, entity_type="erasure_request",
                                      action="create")
    assert event.entity_id == result["id"]
    assert event.changes["outcome"] == "denied_retention"
    assert "diagnosis" not in str(event.changes)
    got = await client.get(f"/api/v1/erasure-requests/{result['id']}", headers=day.admin)
    assert got.status_code == 200 and got.json()["reason"].startswith("Patient letter")


async def test_bad_input(client, session) -> None:
    day = await clinical_day(client, session)
    hold_url = f"/api/v1/patients/{day.patient['id']}/legal-hold"
    resp = await client.put(hold_url, headers=day.admin, json={"active": True})
    assert resp.status_code == 422
    resp = await client.post(_erase_url(day.patient["id"]), headers=day.admin, json={})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "reason"
    resp = await client.post(_erase_url("PT-19000101-0001"), headers=day.admin,
                             json={"reason": "x"})
    assert resp.status_code == 404
    resp = await client.get(f"/api/v1/erasure-requests/{uuid.uuid4()}", headers=day.admin)
    assert resp.status_code == 404
    resp = await client.get("/api/v1/erasure-requests", headers=day.admin,
                            params={"outcome": "maybe"})
    assert resp.status_code == 422


def test_retention_arithmetic() -> None:
    assert add_years(date(2018, 5, 10), 7) == date(2025, 5, 10)
    assert add_years(date(2020, 2, 29), 7) == date(2027, 3, 1)  # never cut short
    assert add_years(date(2020, 2, 29), 4) == date(2024, 2, 29)
