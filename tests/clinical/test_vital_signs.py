"""Seed 004 ``/vital-signs``: aliases, section 12 ranges, appointment/visit links, audit,
no deletion."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from hms.audit import service as audit
from hms.clinical.models import VitalSigns
from hms.core.permissions import Role
from tests.clinical.factories import (
    VITALS_SEED_004,
    booked_appointment,
    checked_in,
    headers_for,
    record_vitals,
)
from tests.patients.factories import make_patient

PROBLEM = "application/problem+json"


def assert_problem(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["code"] == code and body["type"].endswith(code)
    return body


class TestCreate:
    async def test_seed_004_names_with_patient_id(self, client, session):
        nurse = await headers_for(client, session, Role.NURSE)
        patient = await make_patient(session)
        resp = await client.post("/api/v1/vital-signs", headers=nurse, json={
            "patient_id": str(patient.id), **VITALS_SEED_004, "notes": "calm"})
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["blood_pressure_systolic"] == 120
        assert body["blood_pressure_diastolic"] == 80
        assert body["pulse_bpm"] == 72
        assert body["respiratory_rate_per_min"] == 16
        assert body["oxygen_saturation_percent"] == 98
        assert body["bmi"] == 22.9
        assert body["notes"] == "calm"
        assert body["recorded_by"] is not None
        assert body["created_at"] and body["updated_at"]
        assert resp.headers["location"] == f"/api/v1/vital-signs/{body['id']}"
        assert await audit.count_events(session, action="create",
                                        entity_type="vital_signs") == 1

    async def test_for_checked_in_appointment_fills_visit(self, client, session):
        care = await checked_in(client, session)
        body = await record_vitals(client, care)
        assert body["appointment_id"] == care.appointment_id
        assert body["patient_id"] == str(care.patient_id)
        assert body["visit_id"] == care.appointment["visit_id"] is not None

    async def test_appointment_not_checked_in_is_refused(self, client, session):
        care = await booked_appointment(client, session)
        resp = await client.post("/api/v1/vital-signs", headers=care.nurse_headers, json={
            "appointment_id": care.appointment_id, **VITALS_SEED_004})
        assert_problem(resp, 422, "appointment_not_in_care")

    async def test_for_a_visit(self, client, session):
        nurse = await headers_for(client, session, Role.NURSE)
        patient = await make_patient(session)
        visit = (await client.post("/api/v1/visits", headers=nurse,
                                   json={"patient_id": str(patient.id)})).json()
        resp = await client.post("/api/v1/vital-signs", headers=nurse,
                                 json={"visit_id": visit["id"], "pulse_rate": 80})
        assert resp.status_code == 201, resp.text
        assert resp.json()["patient_id"] == str(patient.id)

    async def test_patient_of_other_visit_is_refused(self, client, session):
        nurse = await headers_for(client, session, Role.NURSE)
        patient, other = await make_patient(session), await make_patient(session)
        visit = (await client.post("/api/v1/visits", headers=nurse,
                                   json={"patient_id": str(patient.id)})).json()
        resp = await client.post("/api/v1/vital-signs", headers=nurse, json={
            "visit_id": visit["id"], "patient_id": str(other.id), "pulse_rate": 80})
        assert_problem(resp, 422, "record_mismatch")

    async def test_no_patient_reference(self, client, session):
        nurse = await headers_for(client, session, Role.NURSE)
        resp = await client.post("/api/v1/vital-signs", headers=nurse, json={"pulse_rate": 80})
        body = assert_problem(resp, 422, "validation_error")
        assert body["errors"][0]["field"] == "patient_id"

    @pytest.mark.parametrize(("field", "value"), [
        ("temperature_celsius", 34.9), ("temperature_celsius", 43.4),
        ("pulse_rate", 39), ("pulse_rate", 201),
        ("oxygen_saturation", 69), ("oxygen_saturation", 101),
        ("respiratory_rate", 0), ("weight_kg", 0), ("height_cm", 0),
        ("systolic_bp", 10**12),
    ])
    async def test_section_12_ranges_name_the_field(self, client, session, field, value):
        nurse = await headers_for(client, session, Role.NURSE)
        patient = await make_patient(session)
        resp = await client.post("/api/v1/vital-signs", headers=nurse, json={
            "patient_id": str(patient.id), field: value})
        body = assert_problem(resp, 422, "validation_error")
        assert [e["field"] for e in body["errors"]] == [field]

    async def test_systolic_must_exceed_diastolic(self, client, session):
        nurse = await headers_for(client, session, Role.NURSE)
        patient = await make_patient(session)
        resp = await client.post("/api/v1/vital-signs", headers=nurse, json={
            "patient_id": str(patient.id), "systolic_bp": 80, "diastolic_bp": 80})
        body = assert_problem(resp, 422, "validation_error")
        assert body["errors"][0]["field"] == "blood_pressure_systolic"
        assert body["errors"][0]["type"] == "systolic_not_above_diastolic"

    async def test_inactive_patient_is_refused(self, client, session):
        nurse = await headers_for(client, session, Role.NURSE)
        reception = await headers_for(client, session, Role.RECEPTIONIST)
        patient = await make_patient(session)
        resp = await client.delete(f"/api/v1/patients/{patient.id}", headers=reception)
        assert resp.status_code in (200, 204), resp.text
        resp = await client.post("/api/v1/vital-signs", headers=nurse, json={
            "patient_id": str(patient.id), "pulse_rate": 80})
        assert_problem(resp, 422, "patient_not_active")

    async def test_recorded_at_in_future(self, client, session):
        nurse = await headers_for(client, session, Role.NURSE)
        patient = await make_patient(session)
        resp = await client.post("/api/v1/vital-signs", headers=nurse, json={
            "patient_id": str(patient.id), "pulse_rate": 80,
            "recorded_at": "2999-01-01T00:00:00Z"})
        assert_problem(resp, 422, "date_in_future")


class TestReadUpdateDelete:
    async def _one(self, client, session):
        nurse = await headers_for(client, session, Role.NURSE)
        patient = await make_patient(session)
        resp = await client.post("/api/v1/vital-signs", headers=nurse, json={
            "patient_id": str(patient.id), **VITALS_SEED_004})
        assert resp.status_code == 201, resp.text
        return nurse, patient, resp.json()

    async def test_get_and_list_with_filters(self, client, session):
        nurse, patient, vs = await self._one(client, session)
        resp = await client.get(f"/api/v1/vital-signs/{vs['id']}", headers=nurse)
        assert resp.status_code == 200 and resp.json()["id"] == vs["id"]
        assert await audit.count_events(session, action="read",
                                        entity_type="vital_signs") == 1
        resp = await client.get("/api/v1/vital-signs", headers=nurse,
                                params={"patient_id": str(patient.id), "sort": "-recorded_at"})
        page = resp.json()
        assert page["total"] == 1 and page["items"][0]["id"] == vs["id"]
        other = await make_patient(session)
        resp = await client.get("/api/v1/vital-signs", headers=nurse,
                                params={"patient_id": str(other.id)})
        assert resp.json()["total"] == 0

    async def test_unknown_sort_is_422(self, client, session):
        nurse = await headers_for(client, session, Role.NURSE)
        resp = await client.get("/api/v1/vital-signs", headers=nurse, params={"sort": "nope"})
        assert_problem(resp, 422, "validation_error")

    async def test_partial_update_is_audited(self, client, session):
        nurse, _, vs = await self._one(client, session)
        resp = await client.put(f"/api/v1/vital-signs/{vs['id']}", headers=nurse,
                                json={"pulse_rate": 90, "weight_kg": 80})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["pulse_bpm"] == 90 and body["blood_pressure_systolic"] == 120
        assert body["bmi"] == 26.1
        assert body["updated_at"] >= vs["updated_at"]
        events = await audit.list_events(session, action="update", entity_type="vital_signs")
        assert events[0].changes["before"]["pulse_bpm"] == 72
        assert events[0].changes["after"]["pulse_bpm"] == 90

    async def test_update_breaking_pressure_order(self, client, session):
        nurse, _, vs = await self._one(client, session)
        resp = await client.put(f"/api/v1/vital-signs/{vs['id']}", headers=nurse,
                                json={"diastolic_bp": 130})
        assert_problem(resp, 422, "validation_error")

    async def test_delete_is_refused_and_row_stays(self, client, session):
        nurse, _, vs = await self._one(client, session)
        resp = await client.delete(f"/api/v1/vital-signs/{vs['id']}", headers=nurse)
        assert_problem(resp, 409, "clinical_record_retention")
        count = await session.scalar(select(func.count()).select_from(VitalSigns)
                                     .where(VitalSigns.id == uuid.UUID(vs["id"])))
        assert count == 1

    async def test_unknown_id_is_404(self, client, session):
        nurse = await headers_for(client, session, Role.NURSE)
        resp = await client.get("/api/v1/vital-signs/00000000-0000-4000-8000-000000000000",
                                headers=nurse)
        assert_problem(resp, 404, "not_found")
