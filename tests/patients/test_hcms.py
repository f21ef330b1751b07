"""Seed 004 (HCMS) patients: seed field names, insurance, GET /patients list with filters and
sort, DELETE = deactivate, and /patients/{id}/details."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event, select, text

from hms.audit import service as audit
from hms.core.permissions import Role
from hms.db.base import utcnow
from hms.patients import service
from hms.patients.models import Patient
from tests.identity.factories import auth_headers, make_doctor
from tests.organization.factories import make_insurance_provider
from tests.patients.factories import make_patient, national_id, seed_payload
from tests.records.factories import set_medical_record

URL = "/api/v1/patients"


def assert_problem(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["code"] == code
    return body


def hcms_body(**overrides):
    body = {"first_name": "Mona", "last_name": "Hassan", "date_of_birth": "1990-01-01",
            "gender": "FEMALE", "phone": "+20 2 2345 6789", "email": "mona@example.org",
            "address": "12 Nile St", "city": "Cairo", "state": "Giza", "postal_code": "12511",
            "country": "Egypt", "emergency_contact_name": "Ali Hassan",
            "emergency_contact_phone": "01011112222",
            "emergency_contact_relationship": "brother",
            "national_id": national_id(gender="female")}
    body.update(overrides)
    return body


class TestSeedNames:
    async def test_seed_004_names_map_to_canonical_fields(self, client, session):
        h = await auth_headers(client, session, Role.RECEPTIONIST)
        provider = await make_insurance_provider(session)
        resp = await client.post(URL, headers=h, json=hcms_body(
            insurance_provider_id=str(provider.id), insurance_policy_number="POL-123456",
            patient_number="HC-0001"))
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert (body["given_name"], body["family_name"], body["full_name"]) == (
            "Mona", "Hassan", "Mona Hassan")
        assert body["gender"] == "female"
        assert body["address_line"] == "12 Nile St" and body["governorate"] == "Giza"
        assert body["emergency_contact_relation"] == "brother"
        assert body["insurance_provider_id"] == str(provider.id)
        assert body["insurance_policy_number"] == "POL-123456"
        assert body["patient_number"] == "HC-0001"
        # The policy number is an identifier: encrypted at rest.
        raw = await session.scalar(text(
            "SELECT insurance_policy_number FROM patients WHERE patient_number = 'HC-0001'"))
        assert raw is not None and "123456" not in raw

    async def test_policy_number_is_masked_for_physicians(self, client, session):
        patient = await make_patient(session, insurance_policy_number="POL-987654")
        h = await auth_headers(client, session, Role.PHYSICIAN)
        resp = await client.get(f"{URL}/{patient.id}", headers=h)
        assert resp.json()["insurance_policy_number"].endswith("654")
        assert "987" not in resp.json()["insurance_policy_number"]

    async def test_unknown_insurance_provider_is_422(self, client, session):
        h = await auth_headers(client, session, Role.RECEPTIONIST)
        resp = await client.post(URL, headers=h, json=hcms_body(
            insurance_provider_id=str(uuid.uuid4())))
        body = assert_problem(resp, 422, "insurance_provider_not_found")
        assert body["errors"][0]["field"] == "insurance_provider_id"

    async def test_unknown_provider_on_update_is_422(self, client, session):
        h = await auth_headers(client, session, Role.RECEPTIONIST)
        patient = await make_patient(session)
        resp = await client.put(f"{URL}/{patient.id}", headers=h, json={
            "insurance_provider_id": str(uuid.uuid4()), "version": 1})
        assert_problem(resp, 422, "insurance_provider_not_found")

    async def test_patient_number_rules(self, client, session):
        h = await auth_headers(client, session, Role.RECEPTIONIST)
        first = await client.post(URL, headers=h, json=seed_payload(patient_number="MRN-77"))
        assert first.status_code == 201
        dup = await client.post(URL, headers=h, json=seed_payload(patient_number="mrn-77"))
        body = assert_problem(dup, 409, "duplicate_patient")
        assert body["existing_patient"]["id"] == first.json()["id"]
        for bad in ("MRN 77", "x" * 33, "MRN_77"):
            resp = await client.post(URL, headers=h, json=seed_payload(patient_number=bad))
            assert resp.status_code == 422, bad
        generated = await client.post(URL, headers=h, json=seed_payload())
        assert generated.json()["patient_number"].startswith("PT-")

    async def test_unknown_field_is_422(self, client, session):
        h = await auth_headers(client, session, Role.RECEPTIONIST)
        resp = await client.post(URL, headers=h, json=seed_payload(favourite_colour="blue"))
        assert resp.status_code == 422
        assert resp.headers["content-type"].startswith("application/problem+json")


class TestList:
    async def test_filters(self, client, session):
        h = await auth_headers(client, session, Role.RECEPTIONIST)
        provider = await make_insurance_provider(session)
        tag = uuid.uuid4().hex[:6]
        covered = await make_patient(session, full_name=f"Zed{tag} Covered",
                                     insurance_provider_id=provider.id)
        female = await make_patient(session, full_name=f"Zed{tag} Female", gender="female",
                                    national_id=national_id(gender="female"))
        gone = await make_patient(session, full_name=f"Zed{tag} Gone")
        await session.execute(Patient.__table__.update().where(Patient.id == gone.id)
                              .values(is_active=False))
        await session.commit()

        async def ids(**params):
            resp = await client.get(URL, headers=h, params={"q": f"zed{tag}", **params})
            assert resp.status_code == 200, resp.text
            return [i["id"] for i in resp.json()["items"]]

        assert set(await ids()) == {str(covered.id), str(female.id), str(gone.id)}
        assert await ids(gender="FEMALE") == [str(female.id)]
        assert await ids(insurance_provider_id=str(provider.id)) == [str(covered.id)]
        assert set(await ids(is_active="false")) == {str(gone.id)}
        today = utcnow().date()
        assert len(await ids(date_from=str(today), date_to=str(today))) == 3
        assert await ids(date_to=str(today - timedelta(days=1))) == []
        assert await ids(sort="-full_name") == [str(gone.id), str(female.id), str(covered.id)]
        assert await ids(sort="full_name") == [str(covered.id), str(female.id), str(gone.id)]
        assert await audit.count_events(session, action="read", patient_id=covered.id) >= 1

    async def test_bad_sort_and_range_are_422(self, client, session):
        h = await auth_headers(client, session, Role.ADMIN)
        assert_problem(await client.get(URL, headers=h, params={"sort": "national_id"}),
                       422, "validation_error")
        resp = await client.get(URL, headers=h, params={"date_from": "2025-02-01",
                                                       "date_to": "2025-01-01"})
        assert_problem(resp, 422, "validation_error")


class TestDeactivate:
    async def test_delete_deactivates_and_blocks_booking(self, client, session):
        h = await auth_headers(client, session, Role.RECEPTIONIST)
        patient = await make_patient(session)
        resp = await client.delete(f"{URL}/{patient.id}", headers=h)
        assert resp.status_code == 200, resp.text
        assert resp.json()["is_active"] is False and resp.json()["version"] == 2
        assert await audit.count_events(session, action="deactivate",
                                        patient_id=patient.id) == 1
        row = await session.scalar(select(Patient).where(Patient.id == patient.id))
        assert row is not None  # soft: the row stays
        # An inactive patient cannot be booked (rule patient_not_active).
        from hms.core.errors import RuleViolation

        with pytest.raises(RuleViolation) as err:
            await service.require_active_patient(session, patient.id)
        assert err.value.code == "patient_not_active"
        again = await client.delete(f"{URL}/{patient.id}", headers=h)
        assert again.status_code == 200 and again.json()["version"] == 2

    async def test_nurse_and_physician_cannot_delete(self, client, session):
        patient = await make_patient(session)
        for role in (Role.NURSE, Role.PHYSICIAN, Role.BILLING_OFFICER):
            h = await auth_headers(client, session, role)
            resp = await client.delete(f"{URL}/{patient.id}", headers=h)
            assert resp.status_code == 403, role

    async def test_unknown_is_404(self, client, session):
        h = await auth_headers(client, session, Role.ADMIN)
        resp = await client.delete(f"{URL}/PT-NOPE", headers=h)
        assert resp.status_code == 404


class TestDetails:
    async def test_details_has_provider_and_record(self, client, session):
        provider = await make_insurance_provider(session)
        patient = await make_patient(session, insurance_provider_id=provider.id)
        await set_medical_record(session, patient.id, allergies="Penicillin")
        h = await auth_headers(client, session, Role.PHYSICIAN)
        resp = await client.get(f"{URL}/{patient.patient_number}/details", headers=h)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["patient"]["id"] == str(patient.id)
        assert body["insurance_provider"]["id"] == str(provider.id)
        assert body["medical_record"]["allergies"] == "Penicillin"
        assert body["appointments"] == []
        assert await audit.count_events(session, action="read", entity_type="medical_record",
                                        patient_id=patient.id) == 1

    async def test_receptionist_nurse_billing_are_403(self, client, session):
        patient = await make_patient(session)
        for role in (Role.RECEPTIONIST, Role.NURSE, Role.BILLING_OFFICER):
            h = await auth_headers(client, session, role)
            resp = await client.get(f"{URL}/{patient.id}/details", headers=h)
            assert resp.status_code == 403, role

    async def test_no_n_plus_one(self, client, session, db):
        # The appointments come from scheduling.service.appointments_of_patient (part C).
        pytest.importorskip("hms.scheduling.service")
        from hms.scheduling.models import Appointment

        h = await auth_headers(client, session, Role.ADMIN)
        doctor = await make_doctor(session)
        one = await make_patient(session)
        five = await make_patient(session)

        def appointment(patient_id, day: int) -> Appointment:
            starts = (utcnow() + timedelta(days=day)).replace(hour=9, minute=0, second=0,
                                                              microsecond=0)
            return Appointment(patient_id=patient_id, doctor_id=doctor.id,
                               appointment_date=starts.date(), appointment_time=starts.time(),
                               duration_minutes=30, starts_at=starts,
                               ends_at=starts + timedelta(minutes=30),
                               appointment_type="consultation", status="scheduled")

        session.add(appointment(one.id, 10))  # not the same slot as five's (one doctor)
        session.add_all([appointment(five.id, day) for day in range(1, 6)])
        await session.commit()
        statements: list[str] = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        engine = db.engine.sync_engine
        # Warm-up: the first request of a session loads the role's grants once.
        assert (await client.get(f"{URL}/{one.id}/details", headers=h)).status_code == 200
        event.listen(engine, "after_cursor_execute", count)
        try:
            r1 = await client.get(f"{URL}/{one.id}/details", headers=h)
            n1 = len(statements)
            statements.clear()
            r5 = await client.get(f"{URL}/{five.id}/details", headers=h)
            n5 = len(statements)
        finally:
            event.remove(engine, "after_cursor_execute", count)
        assert len(r1.json()["appointments"]) == 1 and len(r5.json()["appointments"]) == 5
        assert n1 == n5
