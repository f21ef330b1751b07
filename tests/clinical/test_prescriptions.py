"""Seed 004 ``/prescriptions``: doctors only, allergy check with override, 30-day validity,
current medications, soft deletion."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from hms.audit import service as audit
from hms.clinical import clock
from hms.clinical.models import Prescription
from hms.core.permissions import Role
from tests.clinical.factories import (
    PRESCRIPTION,
    Care,
    completed,
    headers_for,
    in_consultation,
    set_allergies,
)
from tests.clinical.test_vital_signs import assert_problem


async def _prescribe(client, care: Care, **overrides):
    body = {**PRESCRIPTION, "consultation_id": care.consultation_id, **overrides}
    return await client.post("/api/v1/prescriptions", headers=care.doctor_headers, json=body)


class TestCreate:
    async def test_doctor_prescribes(self, client, session):
        care = await in_consultation(client, session)
        resp = await _prescribe(client, care)
        assert resp.status_code == 201, resp.text
        body = resp.json()
        today = clock.today()
        assert body["prescribed_date"] == today.isoformat()
        assert body["valid_until"] == (today + timedelta(days=30)).isoformat()
        assert body["is_active"] is True and body["is_valid"] is True
        assert body["doctor_id"] == str(care.doctor.id)
        assert body["patient_id"] == str(care.patient_id)
        assert body["warnings"] == []
        assert await audit.count_events(session, action="create",
                                        entity_type="prescription") == 1

    async def test_quantity_must_be_positive(self, client, session):
        care = await in_consultation(client, session)
        body = assert_problem(await _prescribe(client, care, quantity=0), 422,
                              "validation_error")
        assert body["errors"][0]["field"] == "quantity"

    async def test_allergy_conflict_and_override(self, client, session):
        care = await in_consultation(client, session)
        await set_allergies(session, care.patient_id, "Sulfa drugs\nPeanuts")
        resp = await _prescribe(client, care, medication_name="Co-trimoxazole 960 mg")
        body = assert_problem(resp, 422, "allergy_conflict")
        assert body["conflicts"][0]["allergy"] == "Sulfa drugs"
        assert await session.scalar(select(func.count()).select_from(Prescription)) == 0
        resp = await _prescribe(client, care, medication_name="Co-trimoxazole 960 mg",
                                allergy_override=True)
        assert resp.status_code == 201, resp.text
        assert resp.json()["warnings"] == [{"code": "allergy_conflict",
                                            "allergy": "Sulfa drugs",
                                            "medication": "Co-trimoxazole 960 mg"}]

    async def test_patient_must_match_consultation(self, client, session):
        care = await in_consultation(client, session)
        resp = await _prescribe(client, care, patient_id=str(uuid.uuid4()))
        assert_problem(resp, 422, "record_mismatch")

    async def test_unknown_consultation(self, client, session):
        care = await in_consultation(client, session)
        resp = await _prescribe(client, care, consultation_id=str(uuid.uuid4()))
        body = assert_problem(resp, 422, "validation_error")
        assert body["errors"][0]["field"] == "consultation_id"

    async def test_prescribed_date_in_future(self, client, session):
        care = await in_consultation(client, session)
        future = (clock.today() + timedelta(days=3)).isoformat()
        assert_problem(await _prescribe(client, care, prescribed_date=future), 422,
                       "date_in_future")

    async def test_locked_consultation(self, client, session, monkeypatch):
        care = await completed(client, session)
        later = clock.now() + timedelta(hours=25)
        monkeypatch.setattr(clock, "now", lambda: later)
        assert_problem(await _prescribe(client, care), 409, "consultation_locked")

    async def test_admin_and_nurse_cannot_prescribe(self, client, session):
        care = await in_consultation(client, session)
        for role in (Role.ADMIN, Role.NURSE):
            h = await headers_for(client, session, role)
            resp = await client.post("/api/v1/prescriptions", headers=h, json={
                **PRESCRIPTION, "consultation_id": care.consultation_id})
            assert resp.status_code == 403


class TestValidityAndLists:
    async def test_active_filter_is_current_medications(self, client, session):
        care = await in_consultation(client, session)
        current = (await _prescribe(client, care)).json()
        old_day = (clock.today() - timedelta(days=31)).isoformat()
        expired = (await _prescribe(client, care, medication_name="Old drug",
                                    prescribed_date=old_day)).json()
        assert expired["is_valid"] is False
        stopped = (await _prescribe(client, care, medication_name="Stopped drug")).json()
        resp = await client.delete(f"/api/v1/prescriptions/{stopped['id']}",
                                   headers=care.doctor_headers)
        assert resp.status_code == 200 and resp.json()["is_active"] is False
        params = {"patient_id": str(care.patient_id)}
        resp = await client.get("/api/v1/prescriptions", headers=care.doctor_headers,
                                params={**params, "active": "true"})
        assert [p["id"] for p in resp.json()["items"]] == [current["id"]]
        resp = await client.get("/api/v1/prescriptions", headers=care.doctor_headers,
                                params={**params, "active": "false", "sort": "medication_name"})
        assert [p["id"] for p in resp.json()["items"]] == [expired["id"], stopped["id"]]
        resp = await client.get(f"/api/v1/patients/{care.patient_id}/current-medications",
                                headers=care.doctor_headers)
        assert [p["id"] for p in resp.json()] == [current["id"]]
        resp = await client.get("/api/v1/prescriptions", headers=care.doctor_headers,
                                params={**params, "q": "stopped"})
        assert resp.json()["total"] == 1
        resp = await client.get("/api/v1/prescriptions", headers=care.doctor_headers,
                                params={"sort": "dosage"})
        assert_problem(resp, 422, "validation_error")

    async def test_validity_moves_with_the_clock(self, client, session, monkeypatch):
        care = await in_consultation(client, session)
        rx = (await _prescribe(client, care)).json()
        later = clock.now() + timedelta(days=31)
        monkeypatch.setattr(clock, "now", lambda: later)
        resp = await client.get(f"/api/v1/prescriptions/{rx['id']}",
                                headers=care.doctor_headers)
        assert resp.json()["is_valid"] is False


class TestUpdateDelete:
    async def test_update_and_deactivate(self, client, session):
        care = await in_consultation(client, session)
        rx = (await _prescribe(client, care)).json()
        url = f"/api/v1/prescriptions/{rx['id']}"
        resp = await client.put(url, headers=care.doctor_headers,
                                json={"dosage": "200 mcg", "is_active": False})
        assert resp.status_code == 200, resp.text
        assert resp.json()["dosage"] == "200 mcg" and resp.json()["is_active"] is False
        events = await audit.list_events(session, action="update", entity_type="prescription")
        assert events[0].changes["before"] == {"dosage": "100 mcg", "is_active": True}

    async def test_renaming_to_an_allergen_is_checked(self, client, session):
        care = await in_consultation(client, session)
        await set_allergies(session, care.patient_id, "Aspirin")
        rx = (await _prescribe(client, care)).json()
        resp = await client.put(f"/api/v1/prescriptions/{rx['id']}",
                                headers=care.doctor_headers,
                                json={"medication_name": "Ibuprofen 400 mg"})
        assert_problem(resp, 422, "allergy_conflict")

    async def test_expired_cannot_be_reactivated(self, client, session):
        care = await in_consultation(client, session)
        old_day = (clock.today() - timedelta(days=40)).isoformat()
        rx = (await _prescribe(client, care, prescribed_date=old_day,
                               is_active=False)).json()
        resp = await client.put(f"/api/v1/prescriptions/{rx['id']}",
                                headers=care.doctor_headers, json={"is_active": True})
        assert_problem(resp, 422, "prescription_expired")

    async def test_delete_deactivates_and_row_stays(self, client, session):
        care = await in_consultation(client, session)
        rx = (await _prescribe(client, care)).json()
        resp = await client.delete(f"/api/v1/prescriptions/{rx['id']}",
                                   headers=care.doctor_headers)
        assert resp.status_code == 200 and resp.json()["is_active"] is False
        row = await session.get(Prescription, uuid.UUID(rx["id"]))
        assert row is not None
        assert await audit.count_events(session, action="delete",
                                        entity_type="prescription") == 1
