"""Seed 004 ``/consultations``: start rules (checked in, vitals, doctor, one per
appointment, dates), updates and the 24 h lock, completion in one transaction, details
without N+1, no deletion."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import event, func, select

from hms.audit import service as audit
from hms.clinical import clock
from hms.clinical.models import Consultation, Prescription
from hms.core.errors import RuleViolation
from hms.core.permissions import Role
from hms.patients import service as patients_service
from tests.clinical.factories import (
    PRESCRIPTION,
    booked_appointment,
    checked_in,
    completed,
    headers_for,
    in_consultation,
    record_vitals,
    set_allergies,
)
from tests.clinical.test_vital_signs import assert_problem
from tests.identity.factories import login, make_doctor


async def _start(client, care, **overrides):
    body = {"appointment_id": care.appointment_id,
            "consultation_date": care.consultation_date, **overrides}
    return await client.post("/api/v1/consultations", headers=care.doctor_headers, json=body)


async def _appointment(client, care):
    resp = await client.get(f"/api/v1/appointments/{care.appointment_id}",
                            headers=care.reception_headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


class TestStart:
    async def test_doctor_starts_from_checked_in_appointment(self, client, session):
        care = await checked_in(client, session)
        await record_vitals(client, care)
        resp = await _start(client, care, follow_up_date=None, diagnosis="Asthma?")
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["status"] == "in_progress" and body["completed_at"] is None
        assert body["patient_id"] == str(care.patient_id)
        assert body["doctor_id"] == str(care.doctor.id)
        assert body["visit_id"] == care.appointment["visit_id"]
        assert body["chief_complaint"] == "Cough for a week"  # from the appointment reason
        assert resp.headers["etag"] == 'W/"1"'
        assert (await _appointment(client, care))["status"] == "in_progress"
        assert await audit.count_events(session, action="create",
                                        entity_type="consultation") == 1

    async def test_not_checked_in(self, client, session):
        care = await booked_appointment(client, session)
        assert_problem(await _start(client, care), 422, "appointment_not_checked_in")

    async def test_vitals_required(self, client, session):
        care = await checked_in(client, session)
        assert_problem(await _start(client, care), 422, "vitals_required")
        assert (await _appointment(client, care))["status"] == "checked_in"

    async def test_only_the_appointments_doctor(self, client, session):
        care = await checked_in(client, session)
        await record_vitals(client, care)
        other = await make_doctor(session)
        tokens = await login(client, other.username)
        resp = await client.post("/api/v1/consultations", json={
            "appointment_id": care.appointment_id, "consultation_date": care.consultation_date},
            headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert_problem(resp, 403, "not_appointment_doctor")

    async def test_one_per_appointment(self, client, session):
        care = await in_consultation(client, session)
        assert_problem(await _start(client, care), 409, "consultation_exists")

    async def test_date_must_be_the_appointment_date(self, client, session):
        care = await checked_in(client, session)
        await record_vitals(client, care)
        from tests.clinical.factories import appointment_start

        other_day = (appointment_start(care.appointment) + timedelta(days=2)).isoformat()
        body = assert_problem(await _start(client, care, consultation_date=other_day), 422,
                              "consultation_date_mismatch")
        assert body["errors"][0]["field"] == "consultation_date"

    async def test_follow_up_after_consultation(self, client, session):
        care = await checked_in(client, session)
        await record_vitals(client, care)
        day = care.appointment["appointment_date"]
        assert_problem(await _start(client, care, follow_up_date=day), 422,
                       "follow_up_before_consultation")

    async def test_unknown_appointment(self, client, session):
        doctor = await headers_for(client, session, Role.PHYSICIAN)
        resp = await client.post("/api/v1/consultations", headers=doctor, json={
            "appointment_id": str(uuid.uuid4())})
        body = assert_problem(resp, 422, "validation_error")
        assert body["errors"][0]["field"] == "appointment_id"

    async def test_admin_cannot_start(self, client, session):
        admin = await headers_for(client, session, Role.ADMIN)
        resp = await client.post("/api/v1/consultations", headers=admin, json={
            "appointment_id": str(uuid.uuid4())})
        assert resp.status_code == 403


class TestUpdate:
    async def test_partial_update_audited(self, client, session):
        care = await in_consultation(client, session)
        resp = await client.put(f"/api/v1/consultations/{care.consultation_id}",
                                headers=care.doctor_headers,
                                json={"diagnosis": "Viral bronchitis", "version": 1})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["diagnosis"] == "Viral bronchitis" and body["version"] == 2
        assert body["examination_findings"] == "Wheeze, no fever"
        events = await audit.list_events(session, action="update", entity_type="consultation")
        assert events[0].changes["after"] == {"diagnosis": "Viral bronchitis"}

    async def test_stale_version_is_412(self, client, session):
        care = await in_consultation(client, session)
        resp = await client.put(f"/api/v1/consultations/{care.consultation_id}",
                                headers={**care.doctor_headers, "If-Match": 'W/"7"'},
                                json={"notes": "x"})
        assert resp.status_code == 412

    async def test_locked_24_hours_after_completion(self, client, session, monkeypatch):
        care = await completed(client, session)
        url = f"/api/v1/consultations/{care.consultation_id}"
        resp = await client.put(url, headers=care.doctor_headers, json={"notes": "addendum"})
        assert resp.status_code == 200, resp.text  # within 24 hours: still editable
        later = clock.now() + timedelta(hours=24, minutes=1)
        monkeypatch.setattr(clock, "now", lambda: later)
        resp = await client.put(url, headers=care.doctor_headers, json={"notes": "too late"})
        assert_problem(resp, 409, "consultation_locked")

    async def test_other_doctor_cannot_edit(self, client, session):
        care = await in_consultation(client, session)
        other = await headers_for(client, session, Role.PHYSICIAN)
        resp = await client.put(f"/api/v1/consultations/{care.consultation_id}",
                                headers=other, json={"notes": "x"})
        assert_problem(resp, 403, "not_appointment_doctor")

    async def test_delete_is_refused_and_row_stays(self, client, session):
        care = await in_consultation(client, session)
        resp = await client.delete(f"/api/v1/consultations/{care.consultation_id}",
                                   headers=care.doctor_headers)
        assert_problem(resp, 409, "clinical_record_retention")
        assert await session.scalar(select(func.count()).select_from(Consultation).where(
            Consultation.id == uuid.UUID(care.consultation_id))) == 1


class TestComplete:
    async def test_completes_everything_in_one_go(self, client, session):
        care = await completed(client, session, prescriptions=[
            PRESCRIPTION, {**PRESCRIPTION, "medication_name": "Paracetamol 500 mg"}],
            lab_tests=[{"test_name": "Complete blood count", "test_type": "blood"}])
        body = care.consultation
        assert body["status"] == "completed" and body["completed_at"]
        assert len(body["prescriptions"]) == 2
        assert all(p["is_active"] and p["is_valid"] for p in body["prescriptions"])
        assert [t["test_name"] for t in body["lab_tests"]] == ["Complete blood count"]
        assert body["lab_tests"][0]["status"] == "ordered"
        assert body["warnings"] == []
        assert (await _appointment(client, care))["status"] == "completed"
        record = await patients_service.get_medical_record(session, care.patient_id)
        assert "Acute bronchitis" in (record.notes or "")

    async def test_failure_in_a_later_step_writes_nothing(self, client, session, monkeypatch):
        from hms.lab import service as lab_service

        care = await in_consultation(client, session)

        async def broken(*args, **kwargs):
            raise RuleViolation("lab refused the batch")

        monkeypatch.setattr(lab_service, "order_tests", broken)
        resp = await client.post(
            f"/api/v1/consultations/{care.consultation_id}/complete",
            headers=care.doctor_headers,
            json={"diagnosis": "Bronchitis", "prescriptions": [PRESCRIPTION],
                  "lab_tests": [{"test_name": "CBC"}]})
        assert_problem(resp, 422, "rule_violation")
        cid = uuid.UUID(care.consultation_id)
        assert await session.scalar(select(func.count()).select_from(Prescription).where(
            Prescription.consultation_id == cid)) == 0
        resp = await client.get(f"/api/v1/consultations/{cid}", headers=care.doctor_headers)
        assert resp.json()["status"] == "in_progress" and resp.json()["diagnosis"] is None
        assert (await _appointment(client, care))["status"] == "in_progress"
        record = await patients_service.get_medical_record(session, care.patient_id)
        assert "Bronchitis" not in (record.notes or "")

    async def test_invalid_lab_test_in_batch_is_422(self, client, session):
        care = await in_consultation(client, session)
        resp = await client.post(
            f"/api/v1/consultations/{care.consultation_id}/complete",
            headers=care.doctor_headers,
            json={"prescriptions": [PRESCRIPTION], "lab_tests": [{"test_name": ""}]})
        assert_problem(resp, 422, "validation_error")
        assert await session.scalar(select(func.count()).select_from(Prescription)) == 0

    async def test_allergy_conflict_refused_then_overridden(self, client, session):
        care = await in_consultation(client, session)
        await set_allergies(session, care.patient_id, "Penicillin; latex")
        url = f"/api/v1/consultations/{care.consultation_id}/complete"
        amox = {**PRESCRIPTION, "medication_name": "Amoxicillin 500 mg"}
        resp = await client.post(url, headers=care.doctor_headers,
                                 json={"prescriptions": [amox]})
        body = assert_problem(resp, 422, "allergy_conflict")
        assert "Penicillin" in body["detail"]
        resp = await client.post(url, headers=care.doctor_headers,
                                 json={"prescriptions": [amox], "allergy_override": True})
        assert resp.status_code == 200, resp.text
        assert resp.json()["warnings"] == [{"code": "allergy_conflict",
                                            "allergy": "Penicillin",
                                            "medication": "Amoxicillin 500 mg"}]
        assert resp.json()["prescriptions"][0]["allergy_override"] is True

    async def test_statements_do_not_grow_with_the_orders(self, client, session, db):
        """Prescriptions and lab orders are each inserted as one batch: a completion with
        five of each makes as many database round trips as one with one of each."""
        counts = []
        for n in (1, 5):
            care = await in_consultation(client, session)
            statements: list[str] = []

            def count(conn, cursor, statement, *args, _seen=statements):
                _seen.append(statement)

            engine = db.engine.sync_engine
            event.listen(engine, "after_cursor_execute", count)
            try:
                resp = await client.post(
                    f"/api/v1/consultations/{care.consultation_id}/complete",
                    headers=care.doctor_headers,
                    json={"diagnosis": "Bronchitis",
                          "prescriptions": [{**PRESCRIPTION, "medication_name": f"Drug {i}"}
                                            for i in range(n)],
                          "lab_tests": [{"test_name": f"Test {i}"} for i in range(n)]})
            finally:
                event.remove(engine, "after_cursor_execute", count)
            assert resp.status_code == 200, resp.text
            assert len(resp.json()["prescriptions"]) == n == len(resp.json()["lab_tests"])
            assert [p["medication_name"] for p in resp.json()["prescriptions"]] == [
                f"Drug {i}" for i in range(n)]
            counts.append(len(statements))
        assert counts[0] == counts[1], counts

    async def test_cannot_complete_twice(self, client, session):
        care = await completed(client, session)
        resp = await client.post(f"/api/v1/consultations/{care.consultation_id}/complete",
                                 headers=care.doctor_headers, json={})
        assert_problem(resp, 409, "consultation_already_completed")


class TestReadAndDetails:
    async def test_list_filters(self, client, session):
        care = await in_consultation(client, session)
        admin = await headers_for(client, session, Role.ADMIN)
        resp = await client.get("/api/v1/consultations", headers=admin, params={
            "patient_id": str(care.patient_id), "status": "in_progress",
            "sort": "-consultation_date"})
        assert resp.status_code == 200, resp.text
        assert [c["id"] for c in resp.json()["items"]] == [care.consultation_id]
        resp = await client.get("/api/v1/consultations", headers=admin, params={
            "patient_id": str(care.patient_id), "status": "completed"})
        assert resp.json()["total"] == 0
        resp = await client.get("/api/v1/consultations", headers=admin, params={"sort": "x"})
        assert_problem(resp, 422, "validation_error")

    async def test_nurse_cannot_read(self, client, session):
        nurse = await headers_for(client, session, Role.NURSE)
        assert (await client.get("/api/v1/consultations", headers=nurse)).status_code == 403

    async def _details_statements(self, client, db, care) -> tuple[int, dict]:
        statements: list[str] = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        engine = db.engine.sync_engine
        event.listen(engine, "after_cursor_execute", count)
        try:
            resp = await client.get(f"/api/v1/consultations/{care.consultation_id}/details",
                                    headers=care.doctor_headers)
        finally:
            event.remove(engine, "after_cursor_execute", count)
        assert resp.status_code == 200, resp.text
        return len(statements), resp.json()

    async def test_details_without_n_plus_1(self, client, session, db):
        one = await completed(client, session, prescriptions=[PRESCRIPTION],
                              lab_tests=[{"test_name": "CBC"}])
        five = await completed(
            client, session,
            prescriptions=[{**PRESCRIPTION, "medication_name": f"Drug {i}"} for i in range(5)],
            lab_tests=[{"test_name": f"Test {i}"} for i in range(5)])
        n1, body1 = await self._details_statements(client, db, one)
        n5, body5 = await self._details_statements(client, db, five)
        assert len(body1["prescriptions"]) == 1 and len(body5["prescriptions"]) == 5
        assert len(body5["lab_tests"]) == 5
        assert body5["patient"]["id"] == str(five.patient_id)
        assert body5["doctor"]["id"] == str(five.doctor.id)
        assert n1 == n5


class TestConcurrentStart:
    async def test_two_requests_for_one_appointment_make_one_consultation(
            self, committed_client, db):
        import asyncio

        from hms.db.session import unit_of_work

        async with unit_of_work(db) as s:
            care = await checked_in(committed_client, s)
        await record_vitals(committed_client, care)
        body = {"appointment_id": care.appointment_id,
                "consultation_date": care.consultation_date}
        results = await asyncio.gather(*(
            committed_client.post("/api/v1/consultations", headers=care.doctor_headers,
                                  json=body) for _ in range(2)))
        assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
        conflict = next(r for r in results if r.status_code == 409)
        assert conflict.json()["code"] == "consultation_exists"
        async with unit_of_work(db) as s:
            assert await s.scalar(select(func.count()).select_from(Consultation).where(
                Consultation.appointment_id == uuid.UUID(care.appointment_id))) == 1
