"""Seed 004 medical records: created with the patient, /medical-records CRUD, retention,
versions, permissions, and the cross-module helpers (allergies_of, append_to_medical_record)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, update

from hms.audit import service as audit
from hms.core.permissions import Role
from hms.patients import service
from hms.patients.models import MedicalRecord, Patient
from tests.identity.factories import auth_headers
from tests.patients.factories import make_patient, seed_payload
from tests.records.factories import make_patient_with_record

URL = "/api/v1/medical-records"


def assert_problem(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["code"] == code
    assert body["type"].endswith(code)
    return body


async def _record_count(session, patient_id) -> int:
    return int(await session.scalar(select(func.count()).select_from(MedicalRecord)
                                     .where(MedicalRecord.patient_id == patient_id)) or 0)


class TestCreatedWithPatient:
    async def test_api_registration_creates_an_empty_record(self, client, session):
        h = await auth_headers(client, session, Role.RECEPTIONIST)
        resp = await client.post("/api/v1/patients", headers=h, json=seed_payload())
        assert resp.status_code == 201, resp.text
        pid = uuid.UUID(resp.json()["id"])
        assert await _record_count(session, pid) == 1
        record = await service.get_medical_record(session, pid)
        assert record.allergies is None and record.version == 1

    async def test_service_registration_creates_it_too(self, session):
        patient = await make_patient(session)
        assert await _record_count(session, patient.id) == 1

    async def test_failed_registration_leaves_no_record(self, client, session):
        h = await auth_headers(client, session, Role.RECEPTIONIST)
        before = await session.scalar(select(func.count()).select_from(MedicalRecord))
        body = seed_payload()
        assert (await client.post("/api/v1/patients", headers=h, json=body)).status_code == 201
        again = await client.post("/api/v1/patients", headers=h, json=body)
        assert again.status_code == 409
        after = await session.scalar(select(func.count()).select_from(MedicalRecord))
        assert after == before + 1


class TestCreate:
    async def test_second_record_for_a_patient_is_409(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        patient = await make_patient(session)
        resp = await client.post(URL, headers=h, json={"patient_id": str(patient.id),
                                                       "allergies": "Penicillin"})
        body = assert_problem(resp, 409, "medical_record_exists")
        existing = await service.get_medical_record(session, patient.id)
        assert body["existing_record_id"] == str(existing.id)

    async def test_creates_for_a_patient_without_one(self, client, session):
        h = await auth_headers(client, session, Role.ADMIN)
        patient = await make_patient(session)
        # A patient from before migration 0009's back-fill would have none: remove it.
        await session.execute(MedicalRecord.__table__.delete()
                              .where(MedicalRecord.patient_id == patient.id))
        await session.commit()
        resp = await client.post(URL, headers=h, json={
            "patient_id": str(patient.id), "blood_type": "o+",
            "allergies": "Penicillin;\nPeanuts", "chronic_conditions": "Asthma"})
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["blood_type"] == "O+" and body["version"] == 1
        assert resp.headers["etag"] == 'W/"1"'
        assert resp.headers["location"] == f"{URL}/{body['id']}"
        assert await audit.count_events(session, action="create",
                                        entity_type="medical_record") == 1

    async def test_unknown_patient_is_422(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        resp = await client.post(URL, headers=h, json={"patient_id": str(uuid.uuid4())})
        body = assert_problem(resp, 422, "validation_error")
        assert body["errors"][0]["field"] == "patient_id"

    async def test_unknown_field_and_overlong_text_are_422(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        patient = await make_patient(session)
        resp = await client.post(URL, headers=h, json={"patient_id": str(patient.id),
                                                       "bogus": 1})
        assert resp.status_code == 422
        resp = await client.post(URL, headers=h, json={"patient_id": str(patient.id),
                                                       "notes": "x" * 10_001})
        assert resp.status_code == 422
        resp = await client.post(URL, headers=h, json={"patient_id": str(patient.id),
                                                       "notes": "bell\x07"})
        assert resp.status_code == 422


class TestReadAndList:
    async def test_read_is_audited(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        patient, record = await make_patient_with_record(session, allergies="Latex")
        resp = await client.get(f"{URL}/{record.id}", headers=h)
        assert resp.status_code == 200
        assert resp.json()["allergies"] == "Latex"
        assert resp.headers["etag"] == f'W/"{record.version}"'
        assert await audit.count_events(session, action="read", entity_type="medical_record",
                                        patient_id=patient.id) == 1

    async def test_unknown_is_404(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        resp = await client.get(f"{URL}/{uuid.uuid4()}", headers=h)
        assert_problem(resp, 404, "medical_record_not_found")

    async def test_list_filters_by_patient_and_sorts(self, client, session):
        h = await auth_headers(client, session, Role.ADMIN)
        a, rec_a = await make_patient_with_record(session)
        _b, rec_b = await make_patient_with_record(session)
        resp = await client.get(URL, headers=h, params={"patient_id": str(a.id)})
        assert resp.status_code == 200
        body = resp.json()
        assert body["total"] == 1 and body["items"][0]["id"] == str(rec_a.id)
        resp = await client.get(URL, headers=h, params={"sort": "-created_at",
                                                       "page_size": 100})
        ids = [i["id"] for i in resp.json()["items"]]
        assert ids.index(str(rec_b.id)) < ids.index(str(rec_a.id))
        assert_problem(await client.get(URL, headers=h, params={"sort": "allergies"}),
                       422, "validation_error")


class TestUpdate:
    async def test_update_with_version_is_audited_with_old_and_new(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        _patient, record = await make_patient_with_record(session, allergies="Latex")
        resp = await client.put(f"{URL}/{record.id}", headers={**h, "If-Match": 'W/"2"'},
                                json={"allergies": "Latex, Penicillin"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["version"] == 3 and body["allergies"] == "Latex, Penicillin"
        assert body["updated_at"] > record.updated_at.isoformat()[:19]
        events = await audit.list_events(session, entity_type="medical_record",
                                         entity_id=str(record.id))
        update_events = [e for e in events if e.action == "update"]
        assert update_events[0].changes == {"before": {"allergies": "Latex"},
                                            "after": {"allergies": "Latex, Penicillin"}}

    async def test_stale_version_is_412_and_missing_is_428(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        _, record = await make_patient_with_record(session)
        resp = await client.put(f"{URL}/{record.id}", headers=h,
                                json={"notes": "x", "version": 7})
        assert_problem(resp, 412, "precondition_failed")
        resp = await client.put(f"{URL}/{record.id}", headers=h, json={"notes": "x"})
        assert_problem(resp, 428, "precondition_required")

    async def test_nurse_receptionist_billing_cannot_write_or_read(self, client, session):
        _, record = await make_patient_with_record(session)
        for role in (Role.NURSE, Role.RECEPTIONIST, Role.BILLING_OFFICER):
            h = await auth_headers(client, session, role)
            resp = await client.put(f"{URL}/{record.id}", headers=h,
                                    json={"notes": "x", "version": 1})
            assert resp.status_code == 403, role
            assert (await client.get(f"{URL}/{record.id}", headers=h)).status_code == 403


class TestNeverDeleted:
    async def test_delete_is_409_and_the_row_stays(self, client, session):
        h = await auth_headers(client, session, Role.ADMIN)
        patient, record = await make_patient_with_record(session, allergies="Latex")
        resp = await client.delete(f"{URL}/{record.id}", headers=h)
        body = assert_problem(resp, 409, "medical_record_retention")
        assert "never deleted" in body["detail"]
        assert await _record_count(session, patient.id) == 1

    async def test_deactivating_the_patient_keeps_the_record(self, client, session):
        h = await auth_headers(client, session, Role.RECEPTIONIST)
        patient, _ = await make_patient_with_record(session, allergies="Latex")
        resp = await client.delete(f"/api/v1/patients/{patient.id}", headers=h)
        assert resp.status_code == 200
        assert (await service.get_medical_record(session, patient.id)).allergies == "Latex"


class TestCrossModuleHelpers:
    async def test_allergies_are_split_and_cleaned(self, session):
        patient, _ = await make_patient_with_record(
            session, allergies=" Penicillin ;Sulfa,,\nNSAIDs\r\n; penicillin ")
        assert await service.allergies_of(session, patient.id) == [
            "Penicillin", "Sulfa", "NSAIDs"]
        other = await make_patient(session)
        assert await service.allergies_of(session, other.id) == []

    async def test_append_adds_dated_lines_and_bumps_version(self, session):
        patient, record = await make_patient_with_record(session)
        await service.append_to_medical_record(session, patient.id, note="Dx: flu")
        await service.append_to_medical_record(session, patient.id, note="Dx:\ncold")
        after = await service.get_medical_record(session, patient.id)
        lines = after.notes.split("\n")
        assert len(lines) == 2
        assert lines[0].endswith(": Dx: flu") and lines[1].endswith(": Dx: cold")
        assert lines[0][:4].isdigit()
        assert after.version == record.version + 2
        assert await audit.count_events(session, action="update",
                                        entity_type="medical_record",
                                        patient_id=patient.id) == 2

    async def test_a_copy_loaded_before_the_append_shows_the_new_line(self, session):
        from hms.patients.repository import MedicalRecordRepository

        patient, _ = await make_patient_with_record(session)
        held = await MedicalRecordRepository(session).by_patient(patient.id)
        assert held is not None and not held.notes
        await service.append_to_medical_record(session, patient.id, note="Dx: flu")
        # Read the held copy as it is (an expired attribute loads inside run_sync).
        notes = await session.run_sync(lambda _: held.notes)
        assert notes.endswith(": Dx: flu")

    async def test_append_creates_a_missing_record(self, session):
        patient = await make_patient(session)
        await session.execute(MedicalRecord.__table__.delete()
                              .where(MedicalRecord.patient_id == patient.id))
        await service.append_to_medical_record(session, patient.id, note="first")
        assert (await service.get_medical_record(session, patient.id)).notes.endswith("first")

    async def test_patients_by_ids_is_one_batch(self, session):
        a = await make_patient(session)
        b = await make_patient(session)
        got = await service.patients_by_ids(session, [a.id, b.id, uuid.uuid4()])
        assert set(got) == {a.id, b.id}


class TestRequireActivePatient:
    async def test_each_reason_is_patient_not_active(self, session):
        from hms.core.errors import RuleViolation
        from hms.db.base import utcnow

        active = await make_patient(session)
        assert (await service.require_active_patient(session, active.id)).id == active.id
        inactive = await make_patient(session)
        deceased = await make_patient(session)
        await session.execute(update(Patient).where(Patient.id == inactive.id)
                              .values(is_active=False))
        await session.execute(update(Patient).where(Patient.id == deceased.id)
                              .values(deceased_at=utcnow()))
        for pid, word in ((inactive.id, "inactive"), (deceased.id, "deceased"),
                          (uuid.uuid4(), "does not exist")):
            with pytest.raises(RuleViolation) as err:
                await service.require_active_patient(session, pid, field="patient")
            assert err.value.code == "patient_not_active"
            assert err.value.status_code == 422
            assert word in err.value.detail
            assert err.value.errors[0]["field"] == "patient"
