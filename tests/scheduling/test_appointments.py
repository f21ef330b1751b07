"""Appointments (seed 004 sections 6-12): booking rules, list filters and sort, details,
updates along the status machine, check-in opening a visit, cancel, soft delete, the
consultation start / completion contract used by the clinical module, and audit."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import event, select, update

from hms.audit.models import AuditEvent
from hms.core.auth import Principal
from hms.core.permissions import Role, permissions_for
from hms.patients.models import Patient
from hms.scheduling import service
from hms.scheduling.errors import AppointmentNotCheckedIn, AppointmentNotFound
from hms.scheduling.models import Appointment
from hms.visits.models import Visit
from tests.identity.factories import (
    auth_headers,
    login,
    make_doctor,
    make_user,
    set_user_columns,
)
from tests.organization.factories import make_department
from tests.patients.factories import make_patient
from tests.scheduling.factories import booking_payload, future_slot, make_appointment

URL = "/api/v1/appointments"
PROBLEM = "application/problem+json"


def assert_problem(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["code"] == code
    assert body["type"].endswith(code)
    return body


@pytest.fixture
async def desk(client, session):
    return await auth_headers(client, session, Role.RECEPTIONIST)


@pytest.fixture
async def doctor(session):
    return await make_doctor(session)


@pytest.fixture
async def patient(session):
    return await make_patient(session)


def principal(user) -> Principal:
    return Principal(user_id=user.id, username=user.username, role=user.role,
                     permissions=permissions_for(user.role), session_id=uuid.uuid4(),
                     token_id="t")


async def audit_events(session, entity_id, action: str | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.entity_type == "appointment",
                                    AuditEvent.entity_id == str(entity_id))
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(await session.scalars(stmt.order_by(AuditEvent.id)))


class TestBooking:
    async def test_books_a_scheduled_appointment_and_audits_it(self, client, session, desk,
                                                               doctor, patient):
        dep = await make_department(session)
        resp = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, department_id=str(dep.id)))
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert resp.headers["Location"] == f"{URL}/{body['id']}"
        assert body["status"] == "scheduled" and body["visit_id"] is None
        assert body["department_id"] == str(dep.id)
        start = datetime.fromisoformat(body["starts_at"])
        end = datetime.fromisoformat(body["ends_at"])
        assert end - start == timedelta(minutes=30)
        assert start.utcoffset() == timedelta(0)
        events = await audit_events(session, body["id"], "create")
        assert len(events) == 1 and events[0].patient_id == patient.id

    async def test_accepts_seed_004_upper_case_labels(self, client, desk, doctor, patient):
        resp = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, appointment_type="FOLLOW_UP", status="CONFIRMED"))
        assert resp.status_code == 201, resp.text
        assert resp.json()["appointment_type"] == "follow_up"
        assert resp.json()["status"] == "confirmed"

    async def test_cannot_be_created_in_another_status(self, client, desk, doctor, patient):
        resp = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, status="completed"))
        assert_problem(resp, 409, "invalid_status_transition")

    async def test_refuses_a_time_in_the_past(self, client, desk, doctor, patient):
        past = datetime.now(UTC) - timedelta(minutes=5)
        resp = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, appointment_date=past.date().isoformat(),
            appointment_time=past.time().replace(microsecond=0).isoformat()))
        body = assert_problem(resp, 422, "appointment_in_past")
        assert body["errors"][0]["field"] == "appointment_date"

    async def test_refuses_yesterday(self, client, desk, doctor, patient):
        yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
        resp = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, appointment_date=yesterday.isoformat()))
        assert_problem(resp, 422, "appointment_in_past")

    @pytest.mark.parametrize("minutes", [0, -30, 14, 481])
    async def test_duration_must_be_15_to_480_minutes(self, client, desk, doctor, patient,
                                                      minutes):
        resp = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, duration_minutes=minutes))
        body = assert_problem(resp, 422, "validation_error")
        assert any("duration_minutes" in str(e.get("field", e.get("loc")))
                   for e in body["errors"])

    async def test_refuses_unknown_fields_and_long_text(self, client, desk, doctor, patient):
        resp = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, colour="blue"))
        assert_problem(resp, 422, "validation_error")
        resp = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, reason="x" * 1001))
        assert_problem(resp, 422, "validation_error")

    async def test_only_an_active_doctor_can_be_scheduled(self, client, session, desk,
                                                          patient):
        inactive = await make_doctor(session)
        await set_user_columns(session, inactive.id, is_active=False)
        resp = await client.post(URL, headers=desk, json=booking_payload(patient.id,
                                                                         inactive.id))
        body = assert_problem(resp, 422, "doctor_not_active")
        assert body["errors"][0]["field"] == "doctor_id"

    async def test_a_nurse_is_not_a_doctor(self, client, session, desk, patient):
        nurse = await make_user(session, Role.NURSE)
        resp = await client.post(URL, headers=desk, json=booking_payload(patient.id, nurse.id))
        assert_problem(resp, 422, "doctor_not_active")
        resp = await client.post(URL, headers=desk, json=booking_payload(patient.id,
                                                                         uuid.uuid4()))
        assert_problem(resp, 422, "doctor_not_active")

    async def test_only_an_active_patient_can_be_scheduled(self, client, session, desk,
                                                           doctor, patient):
        await session.execute(update(Patient).where(Patient.id == patient.id)
                              .values(is_active=False))
        await session.commit()
        resp = await client.post(URL, headers=desk, json=booking_payload(patient.id, doctor.id))
        body = assert_problem(resp, 422, "patient_not_active")
        assert body["errors"][0]["field"] == "patient_id"
        resp = await client.post(URL, headers=desk, json=booking_payload(uuid.uuid4(),
                                                                         doctor.id))
        assert_problem(resp, 422, "patient_not_active")

    async def test_deceased_patient_cannot_be_scheduled(self, client, session, desk, doctor,
                                                        patient):
        await session.execute(update(Patient).where(Patient.id == patient.id)
                              .values(deceased_at=datetime.now(UTC)))
        await session.commit()
        resp = await client.post(URL, headers=desk, json=booking_payload(patient.id, doctor.id))
        assert_problem(resp, 422, "patient_not_active")

    async def test_department_must_exist(self, client, desk, doctor, patient):
        resp = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, department_id=str(uuid.uuid4())))
        body = assert_problem(resp, 422, "department_not_found")
        assert body["errors"][0]["field"] == "department_id"

    async def test_department_defaults_to_the_doctors(self, client, session, desk, patient):
        dep = await make_department(session)
        doc = await make_doctor(session, department_id=dep.id)
        resp = await client.post(URL, headers=desk, json=booking_payload(patient.id, doc.id))
        assert resp.status_code == 201 and resp.json()["department_id"] == str(dep.id)


class TestDoubleBooking:
    async def test_overlapping_slot_of_the_same_doctor_is_refused(self, client, session,
                                                                  desk, doctor):
        first = await make_patient(session)
        second = await make_patient(session)
        ok = await client.post(URL, headers=desk, json=booking_payload(
            first.id, doctor.id, appointment_time="10:00:00", duration_minutes=60))
        assert ok.status_code == 201
        clash = await client.post(URL, headers=desk, json=booking_payload(
            second.id, doctor.id, appointment_time="10:30:00", duration_minutes=15))
        body = assert_problem(clash, 409, "appointment_overlap")
        assert body["existing_appointment_id"] == ok.json()["id"]
        assert "double-booking" in body["detail"]

    async def test_enclosing_slot_is_refused(self, client, desk, doctor, patient):
        await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, appointment_time="10:15:00", duration_minutes=15))
        resp = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, appointment_time="10:00:00", duration_minutes=60))
        assert_problem(resp, 409, "appointment_overlap")

    async def test_back_to_back_slots_and_other_doctors_are_fine(self, client, session, desk,
                                                                 doctor, patient):
        other = await make_doctor(session)
        for doc_id, at in ((doctor.id, "10:00:00"), (doctor.id, "10:30:00"),
                           (doctor.id, "09:30:00"), (other.id, "10:00:00")):
            resp = await client.post(URL, headers=desk, json=booking_payload(
                patient.id, doc_id, appointment_time=at, duration_minutes=30))
            assert resp.status_code == 201, resp.text

    async def test_cancelled_and_no_show_appointments_free_the_slot(self, client, session,
                                                                    desk, doctor, patient):
        day, at = future_slot(days=3)
        await make_appointment(session, doctor_id=doctor.id, patient_id=patient.id,
                               appointment_date=day, appointment_time=at, status="cancelled")
        await make_appointment(session, doctor_id=doctor.id, patient_id=patient.id,
                               appointment_date=day, appointment_time=at, status="no_show")
        resp = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, appointment_date=day.isoformat(),
            appointment_time=at.isoformat()))
        assert resp.status_code == 201, resp.text

    async def test_a_time_with_an_offset_is_converted_to_utc(self, client, desk, doctor,
                                                             patient):
        resp = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, appointment_time="12:00:00+02:00"))
        assert resp.status_code == 201, resp.text
        assert resp.json()["appointment_time"] == "10:00:00"
        clash = await client.post(URL, headers=desk, json=booking_payload(
            patient.id, doctor.id, appointment_time="10:15:00"))
        assert_problem(clash, 409, "appointment_overlap")


class TestListAndRead:
    async def test_filters_sort_and_audited_reads(self, client, session, desk, doctor,
                                                  patient):
        other = await make_doctor(session)
        day, _ = future_slot(days=5)
        a = await make_appointment(session, doctor_id=doctor.id, patient_id=patient.id,
                                   appointment_date=day, appointment_time=time(9))
        b = await make_appointment(session, doctor_id=doctor.id, patient_id=patient.id,
                                   appointment_date=day + timedelta(days=1),
                                   appointment_time=time(8), status="confirmed",
                                   appointment_type="follow_up")
        c = await make_appointment(session, doctor_id=other.id, appointment_date=day,
                                   appointment_time=time(11), reason="Knee pain")
        page = (await client.get(URL, headers=desk, params={"doctor_id": str(doctor.id)})
                ).json()
        assert [i["id"] for i in page["items"]] == [str(a.id), str(b.id)]
        assert page["total"] == 2 and page["page_size"] == 20
        page = (await client.get(URL, headers=desk, params={
            "date_from": day.isoformat(), "date_to": day.isoformat(),
            "sort": "-appointment_time"})).json()
        assert [i["id"] for i in page["items"]] == [str(c.id), str(a.id)]
        page = (await client.get(URL, headers=desk, params={"status": "confirmed"})).json()
        assert [i["id"] for i in page["items"]] == [str(b.id)]
        page = (await client.get(URL, headers=desk, params={"appointment_type": "FOLLOW_UP",
                                                            "patient_id": str(patient.id)})
                ).json()
        assert [i["id"] for i in page["items"]] == [str(b.id)]
        page = (await client.get(URL, headers=desk, params={"q": "knee"})).json()
        assert [i["id"] for i in page["items"]] == [str(c.id)]
        assert len(await audit_events(session, c.id, "read")) == 2  # two lists showed it

    async def test_unknown_sort_key_is_a_problem(self, client, desk):
        resp = await client.get(URL, headers=desk, params={"sort": "-password"})
        assert_problem(resp, 422, "validation_error")

    async def test_unknown_status_filter_is_a_problem(self, client, desk):
        resp = await client.get(URL, headers=desk, params={"status": "lost"})
        assert_problem(resp, 422, "validation_error")

    async def test_read_is_audited_and_unknown_is_404(self, client, session, desk):
        a = await make_appointment(session)
        resp = await client.get(f"{URL}/{a.id}", headers=desk)
        assert resp.status_code == 200 and resp.headers["ETag"] == 'W/"1"'
        assert len(await audit_events(session, a.id, "read")) == 1
        assert_problem(await client.get(f"{URL}/{uuid.uuid4()}", headers=desk), 404,
                       "appointment_not_found")

    async def test_a_nurse_reads_but_cannot_book(self, client, session, doctor, patient):
        nurse = await auth_headers(client, session, Role.NURSE)
        assert (await client.get(URL, headers=nurse)).status_code == 200
        resp = await client.post(URL, headers=nurse, json=booking_payload(patient.id,
                                                                          doctor.id))
        assert_problem(resp, 403, "forbidden")


class TestDetails:
    async def test_patient_doctor_department_in_a_fixed_number_of_statements(
        self, client, session, desk, db,
    ):
        dep = await make_department(session, description="Heart")
        doc = await make_doctor(session, department_id=dep.id)
        one = await make_appointment(session, doctor_id=doc.id, department_id=dep.id)
        # A second appointment with other rows everywhere: the count must not depend on them.
        dep2 = await make_department(session)
        two = await make_appointment(session, department_id=dep2.id)
        statements: list[str] = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        engine = db.engine.sync_engine
        event.listen(engine, "after_cursor_execute", count)
        try:
            first = await client.get(f"{URL}/{one.id}/details", headers=desk)
            n_first = len(statements)
            statements.clear()
            second = await client.get(f"{URL}/{two.id}/details", headers=desk)
            n_second = len(statements)
        finally:
            event.remove(engine, "after_cursor_execute", count)
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["patient"]["id"] == str(one.patient_id)
        assert body["patient"]["patient_number"]
        assert body["doctor"]["id"] == str(doc.id) and body["doctor"]["role"] == "physician"
        assert body["department"] == {"id": str(dep.id), "name": dep.name,
                                      "description": "Heart"}
        assert second.json()["department"]["id"] == str(dep2.id)
        assert n_first == n_second
        assert len(await audit_events(session, one.id, "read")) == 1


class TestUpdate:
    async def test_reschedule_rechecks_overlap_and_audits_old_and_new(
        self, client, session, desk, doctor, patient,
    ):
        day, _ = future_slot(days=4)
        a = await make_appointment(session, doctor_id=doctor.id, patient_id=patient.id,
                                   appointment_date=day, appointment_time=time(9))
        await make_appointment(session, doctor_id=doctor.id, appointment_date=day,
                               appointment_time=time(11))
        clash = await client.put(f"{URL}/{a.id}", headers=desk,
                                 json={"appointment_time": "11:15:00"})
        assert_problem(clash, 409, "appointment_overlap")
        ok = await client.put(f"{URL}/{a.id}", headers=desk,
                              json={"appointment_time": "10:00:00", "notes": "moved"})
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert body["appointment_time"] == "10:00:00" and body["version"] == 2
        assert body["starts_at"].startswith(f"{day.isoformat()}T10:00:00")
        assert body["updated_at"] > a.updated_at.isoformat()
        event_ = (await audit_events(session, a.id, "update"))[-1]
        assert event_.changes["before"]["appointment_time"] == "09:00:00"
        assert event_.changes["after"]["appointment_time"] == "10:00:00"
        assert event_.changes["after"]["notes"] == "moved"

    async def test_a_longer_duration_can_overlap(self, client, session, desk, doctor):
        day, _ = future_slot(days=4)
        a = await make_appointment(session, doctor_id=doctor.id, appointment_date=day,
                                   appointment_time=time(9))
        await make_appointment(session, doctor_id=doctor.id, appointment_date=day,
                               appointment_time=time(9, 30))
        resp = await client.put(f"{URL}/{a.id}", headers=desk, json={"duration_minutes": 45})
        assert_problem(resp, 409, "appointment_overlap")

    async def test_reschedule_into_the_past_is_refused(self, client, session, desk):
        a = await make_appointment(session)
        yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
        resp = await client.put(f"{URL}/{a.id}", headers=desk,
                                json={"appointment_date": yesterday.isoformat()})
        assert_problem(resp, 422, "appointment_in_past")

    async def test_a_new_doctor_must_be_active(self, client, session, desk):
        a = await make_appointment(session)
        gone = await make_doctor(session)
        await set_user_columns(session, gone.id, is_active=False)
        resp = await client.put(f"{URL}/{a.id}", headers=desk, json={"doctor_id": str(gone.id)})
        assert_problem(resp, 422, "doctor_not_active")

    async def test_confirm_then_no_show_along_the_machine(self, client, session, desk):
        a = await make_appointment(session)
        resp = await client.put(f"{URL}/{a.id}", headers=desk, json={"status": "confirmed"})
        assert resp.status_code == 200 and resp.json()["status"] == "confirmed"
        resp = await client.put(f"{URL}/{a.id}", headers=desk, json={"status": "no_show"})
        assert resp.status_code == 200 and resp.json()["status"] == "no_show"
        resp = await client.put(f"{URL}/{a.id}", headers=desk, json={"status": "confirmed"})
        body = assert_problem(resp, 409, "invalid_status_transition")
        assert body["from"] == "no_show" and body["to"] == "confirmed"

    async def test_in_progress_and_completed_are_not_set_by_update(self, client, session,
                                                                   desk):
        a = await make_appointment(session, status="checked_in")
        for status in ("in_progress", "completed"):
            resp = await client.put(f"{URL}/{a.id}", headers=desk, json={"status": status})
            assert_problem(resp, 409, "invalid_status_transition")

    async def test_status_checked_in_by_update_performs_the_check_in(self, client, session,
                                                                     desk):
        a = await make_appointment(session)
        resp = await client.put(f"{URL}/{a.id}", headers=desk, json={"status": "checked_in"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "checked_in" and resp.json()["visit_id"]

    async def test_no_rescheduling_after_check_in(self, client, session, desk):
        a = await make_appointment(session, status="checked_in")
        resp = await client.put(f"{URL}/{a.id}", headers=desk, json={"duration_minutes": 60})
        assert_problem(resp, 409, "appointment_not_editable")
        resp = await client.put(f"{URL}/{a.id}", headers=desk, json={"notes": "late"})
        assert resp.status_code == 200 and resp.json()["notes"] == "late"

    async def test_reschedule_and_confirm_in_one_update(self, client, session, desk):
        a = await make_appointment(session)
        resp = await client.put(f"{URL}/{a.id}", headers=desk, json={
            "appointment_time": "17:00:00", "status": "CONFIRMED", "reason": "Review"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "confirmed" and body["appointment_time"] == "17:00:00"
        event_ = (await audit_events(session, a.id, "update"))[-1]
        assert event_.changes["before"]["status"] == "scheduled"
        assert event_.changes["after"]["status"] == "confirmed"

    async def test_stale_version_is_412(self, client, session, desk):
        a = await make_appointment(session)
        resp = await client.put(f"{URL}/{a.id}", headers={**desk, "If-Match": 'W/"7"'},
                                json={"notes": "x"})
        assert_problem(resp, 412, "precondition_failed")
        resp = await client.put(f"{URL}/{a.id}", headers=desk, json={"notes": "x",
                                                                     "version": 1})
        assert resp.status_code == 200 and resp.json()["version"] == 2


class TestCheckIn:
    async def test_check_in_opens_a_visit_for_the_doctor(self, client, session, desk):
        dep = await make_department(session)
        doc = await make_doctor(session, department_id=dep.id)
        a = await make_appointment(session, doctor_id=doc.id, department_id=dep.id,
                                   reason="Chest pain on effort")
        resp = await client.post(f"{URL}/{a.id}/check-in", headers=desk)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "checked_in" and body["checked_in_at"]
        visit = await session.get(Visit, uuid.UUID(body["visit_id"]))
        assert visit is not None and visit.status == "open"
        assert visit.patient_id == a.patient_id
        assert visit.attending_physician_id == doc.id
        assert visit.department == dep.name
        assert visit.chief_complaint == "Chest pain on effort"
        assert len(await audit_events(session, a.id, "check_in")) == 1

    async def test_joins_the_patients_open_visit_with_that_doctor_today(self, client,
                                                                        session, desk,
                                                                        doctor, patient):
        first = await make_appointment(session, doctor_id=doctor.id, patient_id=patient.id)
        second = await make_appointment(session, doctor_id=doctor.id, patient_id=patient.id)
        one = (await client.post(f"{URL}/{first.id}/check-in", headers=desk)).json()
        two = (await client.post(f"{URL}/{second.id}/check-in", headers=desk)).json()
        assert one["visit_id"] == two["visit_id"]
        other_doctor = await make_appointment(session, patient_id=patient.id)
        three = (await client.post(f"{URL}/{other_doctor.id}/check-in", headers=desk)).json()
        assert three["visit_id"] != one["visit_id"]

    async def test_check_in_twice_or_after_cancel_is_refused(self, client, session, desk):
        a = await make_appointment(session, status="checked_in")
        assert_problem(await client.post(f"{URL}/{a.id}/check-in", headers=desk), 409,
                       "invalid_status_transition")
        c = await make_appointment(session, status="cancelled")
        assert_problem(await client.post(f"{URL}/{c.id}/check-in", headers=desk), 409,
                       "invalid_status_transition")

    async def test_patient_deactivated_after_booking_cannot_check_in(self, client, session,
                                                                     desk, patient):
        a = await make_appointment(session, patient_id=patient.id)
        await session.execute(update(Patient).where(Patient.id == patient.id)
                              .values(is_active=False))
        await session.commit()
        resp = await client.post(f"{URL}/{a.id}/check-in", headers=desk)
        assert resp.status_code == 422, resp.text
        await session.refresh(await session.get(Appointment, a.id))
        assert (await session.get(Appointment, a.id)).status == "scheduled"


class TestCancelAndDelete:
    async def test_cancel_with_reason_frees_the_slot(self, client, session, desk, doctor,
                                                     patient):
        first = await client.post(URL, headers=desk, json=booking_payload(patient.id,
                                                                          doctor.id))
        a = first.json()
        resp = await client.post(f"{URL}/{a['id']}/cancel", headers=desk,
                                 json={"reason": "Patient travelling"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "cancelled"
        assert resp.json()["cancelled_reason"] == "Patient travelling"
        assert resp.json()["cancelled_at"]
        assert len(await audit_events(session, a["id"], "cancel")) == 1
        again = await client.post(URL, headers=desk, json=booking_payload(patient.id,
                                                                          doctor.id))
        assert again.status_code == 201

    async def test_cancel_without_a_body(self, client, session, desk):
        a = await make_appointment(session, status="checked_in")
        resp = await client.post(f"{URL}/{a.id}/cancel", headers=desk)
        assert resp.status_code == 200 and resp.json()["cancelled_reason"] is None

    async def test_cannot_cancel_in_progress_or_completed(self, client, session, desk):
        for status in ("in_progress", "completed", "cancelled", "no_show"):
            a = await make_appointment(session, status=status)
            resp = await client.post(f"{URL}/{a.id}/cancel", headers=desk)
            assert_problem(resp, 409, "invalid_status_transition")

    async def test_delete_cancels_and_keeps_the_row(self, client, session, desk):
        a = await make_appointment(session, status="confirmed")
        resp = await client.delete(f"{URL}/{a.id}", headers=desk)
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "cancelled"
        session.expire_all()
        row = await session.get(Appointment, a.id)
        assert row is not None and row.status == "cancelled"

    async def test_delete_after_check_in_is_refused_and_the_row_stays(self, client, session,
                                                                      desk):
        for status in ("checked_in", "in_progress", "completed"):
            a = await make_appointment(session, status=status)
            resp = await client.delete(f"{URL}/{a.id}", headers=desk)
            body = assert_problem(resp, 409, "invalid_status_transition")
            assert "never hard-deleted" in body["detail"]
            session.expire_all()
            assert (await session.get(Appointment, a.id)).status == status


class TestConsultationContract:
    async def test_start_consultation_needs_checked_in(self, session):
        doc = await make_doctor(session)
        a = await make_appointment(session, doctor_id=doc.id)
        with pytest.raises(AppointmentNotCheckedIn) as err:
            await service.start_consultation(session, principal(doc), a.id)
        assert err.value.code == "appointment_not_checked_in"
        assert err.value.status_code == 422

    async def test_start_then_complete_through_the_route(self, client, session):
        doc = await make_doctor(session)
        a = await make_appointment(session, doctor_id=doc.id, status="checked_in",
                                   checked_in_at=datetime.now(UTC))
        started = await service.start_consultation(session, principal(doc), a.id)
        await session.commit()
        assert started.status == "in_progress" and started.consultation_started_at
        headers = {"Authorization": "Bearer " + (await login(client, doc.username))[
            "access_token"]}
        resp = await client.post(f"{URL}/{a.id}/complete", headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "completed" and resp.json()["completed_at"]
        assert len(await audit_events(session, a.id, "complete")) == 1
        assert len(await audit_events(session, a.id, "status_change")) == 1

    async def test_complete_only_from_in_progress(self, client, session):
        doc = await make_doctor(session)
        a = await make_appointment(session, doctor_id=doc.id, status="checked_in")
        headers = {"Authorization": "Bearer " + (await login(client, doc.username))[
            "access_token"]}
        resp = await client.post(f"{URL}/{a.id}/complete", headers=headers)
        assert_problem(resp, 409, "invalid_status_transition")

    async def test_another_doctor_cannot_complete(self, client, session):
        a = await make_appointment(session, status="in_progress")
        other = await auth_headers(client, session, Role.PHYSICIAN)
        resp = await client.post(f"{URL}/{a.id}/complete", headers=other)
        assert_problem(resp, 403, "not_appointment_doctor")

    async def test_get_appointment_and_patient_history(self, session, patient):
        old = await make_appointment(session, patient_id=patient.id,
                                     appointment_date=date(2020, 1, 1),
                                     appointment_time=time(9), status="completed")
        new = await make_appointment(session, patient_id=patient.id)
        assert (await service.get_appointment(session, old.id)).status == "completed"
        with pytest.raises(AppointmentNotFound):
            await service.get_appointment(session, uuid.uuid4())
        history = await service.appointments_of_patient(session, patient.id)
        assert [h.id for h in history] == [new.id, old.id]
        assert len(await service.appointments_of_patient(session, patient.id, limit=1)) == 1
        found = await service.appointments_by_ids(session, [old.id, None, uuid.uuid4()])
        assert list(found) == [old.id]
