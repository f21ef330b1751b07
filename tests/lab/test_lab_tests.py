"""Seed 004 ``/lab-tests``: ordering (doctors only), the status machine without skips,
results only after collection, soft cancellation, filters, and the service contract the
clinical module calls (``order_tests``, ``tests_for_consultations``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import select

from hms.audit import service as audit
from hms.core.auth import Principal
from hms.core.errors import Forbidden
from hms.core.permissions import Role, permissions_for
from hms.lab import service
from hms.lab.models import LabTest
from hms.lab.schemas import LabTestOrder
from hms.patients.models import Patient
from tests.identity.factories import auth_headers, login, make_doctor
from tests.lab.factories import (
    advance_over_http,
    lab_test_payload,
    make_consultation,
    make_lab_test,
    order_over_http,
)
from tests.patients.factories import make_patient
from tests.visits.factories import make_visit

URL = "/api/v1/lab-tests"


def assert_problem(resp: Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["code"] == code, body
    assert body["type"].endswith(code)
    return body


async def doctor_and_headers(client: AsyncClient, session) -> tuple[Any, dict[str, str]]:
    doctor = await make_doctor(session)
    tokens = await login(client, doctor.username)
    return doctor, {"Authorization": f"Bearer {tokens['access_token']}"}


def principal(user: Any, role: Role) -> Principal:
    return Principal(user_id=user.id, username=user.username, role=role,
                     permissions=permissions_for(role), session_id=uuid.uuid4(),
                     token_id="test")


async def stored(session, lab_test_id: str | uuid.UUID) -> LabTest:
    session.expire_all()
    row = (await session.scalars(select(LabTest).where(
        LabTest.id == uuid.UUID(str(lab_test_id))))).one()
    return row


class TestOrderLabTest:
    async def test_doctor_orders_a_test(self, client, session):
        doctor, h = await doctor_and_headers(client, session)
        patient = await make_patient(session)
        resp = await client.post(URL, headers=h, json=lab_test_payload(
            patient.id, test_name="Lipid panel", notes="fasting"))
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["status"] == "ordered"
        assert body["ordered_by_doctor_id"] == str(doctor.id)
        assert body["patient_id"] == str(patient.id)
        assert body["ordered_date"] and body["sample_collected_date"] is None
        assert resp.headers["location"] == f"{URL}/{body['id']}"
        assert await audit.count_events(session, action="create", entity_type="lab_test",
                                        entity_id=body["id"]) == 1

    async def test_order_linked_to_consultation_takes_its_visit(self, client, session):
        doctor, h = await doctor_and_headers(client, session)
        patient = await make_patient(session)
        visit = await make_visit(session, patient.id)
        consultation = await make_consultation(session, patient_id=patient.id,
                                               doctor_id=doctor.id, visit_id=visit.id)
        body = await order_over_http(client, h, patient.id,
                                     consultation_id=str(consultation.id))
        assert body["consultation_id"] == str(consultation.id)
        assert body["visit_id"] == str(visit.id)

    async def test_admin_cannot_order(self, client, session):
        h = await auth_headers(client, session, Role.ADMIN)
        patient = await make_patient(session)
        resp = await client.post(URL, headers=h, json=lab_test_payload(patient.id))
        assert_problem(resp, 403, "forbidden")

    async def test_lab_technician_cannot_order(self, client, session):
        h = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        patient = await make_patient(session)
        resp = await client.post(URL, headers=h, json=lab_test_payload(patient.id))
        assert resp.status_code == 403

    async def test_inactive_patient_is_refused(self, client, session):
        _, h = await doctor_and_headers(client, session)
        patient = await make_patient(session)
        row = await session.get(Patient, patient.id)
        row.is_active = False
        await session.commit()
        resp = await client.post(URL, headers=h, json=lab_test_payload(patient.id))
        assert_problem(resp, 422, "patient_not_active")

    async def test_unknown_patient_is_refused(self, client, session):
        _, h = await doctor_and_headers(client, session)
        resp = await client.post(URL, headers=h, json=lab_test_payload(uuid.uuid4()))
        assert_problem(resp, 422, "patient_not_active")

    async def test_consultation_of_another_patient_is_refused(self, client, session):
        doctor, h = await doctor_and_headers(client, session)
        consultation = await make_consultation(session, doctor_id=doctor.id)
        other = await make_patient(session)
        resp = await client.post(URL, headers=h, json=lab_test_payload(
            other.id, consultation_id=str(consultation.id)))
        body = assert_problem(resp, 422, "consultation_patient_mismatch")
        assert body["errors"][0]["field"] == "consultation_id"

    async def test_unknown_consultation_is_422(self, client, session):
        _, h = await doctor_and_headers(client, session)
        patient = await make_patient(session)
        resp = await client.post(URL, headers=h, json=lab_test_payload(
            patient.id, consultation_id=str(uuid.uuid4())))
        body = assert_problem(resp, 422, "validation_error")
        assert body["errors"][0]["field"] == "consultation_id"

    async def test_visit_of_another_patient_is_refused(self, client, session):
        _, h = await doctor_and_headers(client, session)
        visit = await make_visit(session)
        patient = await make_patient(session)
        resp = await client.post(URL, headers=h, json=lab_test_payload(
            patient.id, visit_id=str(visit.id)))
        assert_problem(resp, 422, "visit_patient_mismatch")

    async def test_ordering_in_another_doctors_name_is_refused(self, client, session):
        _, h = await doctor_and_headers(client, session)
        colleague = await make_doctor(session)
        patient = await make_patient(session)
        resp = await client.post(URL, headers=h, json=lab_test_payload(
            patient.id, ordered_by_doctor_id=str(colleague.id)))
        assert_problem(resp, 422, "ordered_by_not_caller")

    async def test_ordered_by_self_is_accepted(self, client, session):
        doctor, h = await doctor_and_headers(client, session)
        patient = await make_patient(session)
        await order_over_http(client, h, patient.id, ordered_by_doctor_id=str(doctor.id))

    async def test_future_ordered_date_is_refused(self, client, session):
        _, h = await doctor_and_headers(client, session)
        patient = await make_patient(session)
        later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        resp = await client.post(URL, headers=h, json=lab_test_payload(
            patient.id, ordered_date=later))
        body = assert_problem(resp, 422, "validation_error")
        assert body["errors"][0]["field"] == "ordered_date"

    async def test_naive_ordered_date_is_422_not_500(self, client, session):
        _, h = await doctor_and_headers(client, session)
        patient = await make_patient(session)
        resp = await client.post(URL, headers=h, json=lab_test_payload(
            patient.id, ordered_date="2026-01-01T10:00:00"))
        assert_problem(resp, 422, "validation_error")

    async def test_out_of_range_ordered_date_is_422_not_500(self, client, session):
        _, h = await doctor_and_headers(client, session)
        patient = await make_patient(session)
        resp = await client.post(URL, headers=h, json=lab_test_payload(
            patient.id, ordered_date="0001-01-01T00:00:00+01:00"))
        body = assert_problem(resp, 422, "validation_error")
        assert body["errors"][0]["field"] == "ordered_date"

    async def test_test_name_is_required_and_bounded(self, client, session):
        _, h = await doctor_and_headers(client, session)
        patient = await make_patient(session)
        resp = await client.post(URL, headers=h, json={"patient_id": str(patient.id)})
        assert_problem(resp, 422, "validation_error")
        resp = await client.post(URL, headers=h, json=lab_test_payload(
            patient.id, test_name="x" * 201))
        assert_problem(resp, 422, "validation_error")

    async def test_unknown_field_is_refused(self, client, session):
        _, h = await doctor_and_headers(client, session)
        patient = await make_patient(session)
        resp = await client.post(URL, headers=h, json=lab_test_payload(
            patient.id, status="completed"))
        assert_problem(resp, 422, "validation_error")


class TestServiceContract:
    async def test_order_tests_creates_one_row_per_test(self, session):
        doctor = await make_doctor(session)
        consultation = await make_consultation(session, doctor_id=doctor.id)
        out = await service.order_tests(
            session, principal(doctor, Role.PHYSICIAN), patient_id=consultation.patient_id,
            consultation_id=consultation.id,
            tests=[LabTestOrder(test_name="CBC"), LabTestOrder(test_name="CRP",
                                                               test_type="chemistry")])
        assert [t.test_name for t in out] == ["CBC", "CRP"]
        assert {t.status.value for t in out} == {"ordered"}
        assert {t.consultation_id for t in out} == {consultation.id}
        grouped = await service.tests_for_consultations(session, [consultation.id])
        assert [t.test_name for t in grouped[consultation.id]] == ["CBC", "CRP"]

    async def test_empty_batch_orders_nothing(self, session):
        doctor = await make_doctor(session)
        patient = await make_patient(session)
        out = await service.order_tests(session, principal(doctor, Role.PHYSICIAN),
                                        patient_id=patient.id, consultation_id=None, tests=[])
        assert out == []

    async def test_tests_for_consultations_has_an_entry_per_id(self, session):
        doctor = await make_doctor(session)
        a = await make_consultation(session, doctor_id=doctor.id)
        b = await make_consultation(session, doctor_id=doctor.id)
        await make_lab_test(session, patient_id=a.patient_id, doctor_id=doctor.id,
                            consultation_id=a.id)
        grouped = await service.tests_for_consultations(session, [a.id, b.id])
        assert len(grouped[a.id]) == 1 and grouped[b.id] == []
        assert await service.tests_for_consultations(session, []) == {}

    async def test_order_tests_requires_the_order_permission(self, session):
        doctor = await make_doctor(session)
        patient = await make_patient(session)
        try:
            await service.order_tests(session, principal(doctor, Role.ADMIN),
                                      patient_id=patient.id, consultation_id=None,
                                      tests=[LabTestOrder(test_name="CBC")])
        except Forbidden:
            pass
        else:  # pragma: no cover
            raise AssertionError("an admin ordered a lab test")


class TestWorkflow:
    async def test_ordered_to_completed_one_step_at_a_time(self, client, session):
        _, dh = await doctor_and_headers(client, session)
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        patient = await make_patient(session)
        created = await order_over_http(client, dh, patient.id)
        url = f"{URL}/{created['id']}"

        resp = await client.post(f"{url}/collect-sample", headers=lh)
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "sample_collected"
        assert resp.json()["sample_collected_date"] is not None

        resp = await client.put(url, headers=lh, json={"status": "IN_PROGRESS",
                                                       "notes": "on analyser 2"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "in_progress"

        resp = await client.post(f"{url}/enter-results", headers=lh, json={
            "result_value": "13.5", "result_unit": "g/dL", "reference_range": "13.0-17.0"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "completed"
        assert body["result_value"] == "13.5" and body["result_unit"] == "g/dL"
        assert body["result_date"] is not None
        assert body["version"] == 4
        assert await audit.count_events(session, action="update", entity_type="lab_test",
                                        entity_id=created["id"]) == 3
        events = await audit.list_events(session, entity_type="lab_test",
                                         entity_id=created["id"], action="update")
        assert events[0].changes["before"]["status"] == "in_progress"
        assert events[0].changes["after"]["status"] == "completed"

        resp = await client.get(url, headers=dh)  # the doctor reviews the result
        assert resp.status_code == 200
        assert resp.json()["result_value"] == "13.5"
        assert await audit.count_events(session, action="read", entity_type="lab_test",
                                        entity_id=created["id"]) >= 1

    async def test_collect_sample_with_a_given_time(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session)
        when = datetime.now(UTC) - timedelta(minutes=30)
        resp = await client.post(f"{URL}/{test.id}/collect-sample", headers=lh,
                                 json={"sample_collected_date": when.isoformat()})
        assert resp.status_code == 200, resp.text
        got = datetime.fromisoformat(resp.json()["sample_collected_date"])
        assert abs(got - when) < timedelta(seconds=1)

    async def test_put_can_move_ordered_to_sample_collected(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session)
        resp = await client.put(f"{URL}/{test.id}", headers=lh,
                                json={"status": "sample_collected"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["sample_collected_date"] is not None

    async def test_put_edits_notes_and_type(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session)
        resp = await client.put(f"{URL}/{test.id}", headers=lh,
                                json={"test_type": "biochemistry", "notes": "haemolysed?"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["test_type"] == "biochemistry"
        assert resp.json()["status"] == "ordered"
        events = await audit.list_events(session, entity_type="lab_test",
                                         entity_id=str(test.id), action="update")
        assert events[0].changes["before"]["test_type"] == "chemistry"
        assert events[0].changes["after"]["test_type"] == "biochemistry"

    async def test_in_progress_test_can_be_cancelled_by_put(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session, status="in_progress")
        resp = await client.put(f"{URL}/{test.id}", headers=lh, json={
            "status": "cancelled", "cancelled_reason": "sample clotted"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "cancelled"
        assert resp.json()["cancelled_reason"] == "sample clotted"


class TestStatusRules:
    async def test_results_before_collection_are_refused(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session)
        resp = await client.post(f"{URL}/{test.id}/enter-results", headers=lh,
                                 json={"result_value": "4.0"})
        body = assert_problem(resp, 422, "results_before_collection")
        assert "after the sample is collected" in body["detail"]
        assert (await stored(session, test.id)).status == "ordered"

    async def test_results_from_sample_collected_skip_processing(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session, status="sample_collected")
        resp = await client.post(f"{URL}/{test.id}/enter-results", headers=lh,
                                 json={"result_value": "4.0"})
        body = assert_problem(resp, 422, "invalid_status_transition")
        assert (body["from"], body["to"]) == ("sample_collected", "completed")
        assert (await stored(session, test.id)).result_value is None

    async def test_put_cannot_skip_collection(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session)
        resp = await client.put(f"{URL}/{test.id}", headers=lh, json={"status": "in_progress"})
        body = assert_problem(resp, 422, "invalid_status_transition")
        assert (body["from"], body["to"]) == ("ordered", "in_progress")

    async def test_put_cannot_go_back(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session, status="in_progress")
        resp = await client.put(f"{URL}/{test.id}", headers=lh, json={"status": "ordered"})
        assert_problem(resp, 422, "invalid_status_transition")

    async def test_put_cannot_complete_without_results(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session, status="in_progress")
        resp = await client.put(f"{URL}/{test.id}", headers=lh, json={"status": "completed"})
        assert_problem(resp, 422, "results_required")

    async def test_collecting_twice_is_refused(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session, status="sample_collected")
        resp = await client.post(f"{URL}/{test.id}/collect-sample", headers=lh)
        assert_problem(resp, 422, "invalid_status_transition")

    async def test_completed_test_cannot_take_new_results(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session, status="completed")
        resp = await client.post(f"{URL}/{test.id}/enter-results", headers=lh,
                                 json={"result_value": "9.9"})
        assert_problem(resp, 422, "invalid_status_transition")
        assert (await stored(session, test.id)).result_value == "4.1"

    async def test_cancelled_test_cannot_move(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session, status="cancelled")
        resp = await client.post(f"{URL}/{test.id}/collect-sample", headers=lh)
        assert_problem(resp, 422, "invalid_status_transition")

    async def test_put_never_writes_results(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session, status="in_progress")
        resp = await client.put(f"{URL}/{test.id}", headers=lh, json={"result_value": "5"})
        body = assert_problem(resp, 422, "results_not_editable")
        assert body["errors"][0]["field"] == "result_value"
        assert (await stored(session, test.id)).result_value is None

    async def test_final_test_only_takes_notes(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session, status="completed")
        resp = await client.put(f"{URL}/{test.id}", headers=lh, json={"test_name": "Other"})
        assert_problem(resp, 409, "lab_test_final")
        resp = await client.put(f"{URL}/{test.id}", headers=lh,
                                json={"notes": "result phoned to ward"})
        assert resp.status_code == 200, resp.text

    async def test_put_null_test_name_is_422(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session)
        resp = await client.put(f"{URL}/{test.id}", headers=lh,
                                json={"test_name": None, "test_type": None})
        assert_problem(resp, 422, "validation_error")

    async def test_result_value_is_required(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session, status="in_progress")
        resp = await client.post(f"{URL}/{test.id}/enter-results", headers=lh,
                                 json={"result_unit": "g/dL"})
        assert_problem(resp, 422, "validation_error")

    async def test_sample_before_order_is_refused(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session)
        early = (test.ordered_date - timedelta(hours=1)).isoformat()
        resp = await client.post(f"{URL}/{test.id}/collect-sample", headers=lh,
                                 json={"sample_collected_date": early})
        body = assert_problem(resp, 422, "validation_error")
        assert body["errors"][0]["field"] == "sample_collected_date"

    async def test_future_result_date_is_refused(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session, status="in_progress")
        later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        resp = await client.post(f"{URL}/{test.id}/enter-results", headers=lh,
                                 json={"result_value": "1", "result_date": later})
        body = assert_problem(resp, 422, "validation_error")
        assert body["errors"][0]["field"] == "result_date"

    async def test_stale_version_is_412(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session)
        resp = await client.put(f"{URL}/{test.id}", headers={**lh, "If-Match": 'W/"7"'},
                                json={"notes": "x"})
        assert_problem(resp, 412, "precondition_failed")
        resp = await client.put(f"{URL}/{test.id}", headers={**lh, "If-Match": 'W/"1"'},
                                json={"notes": "x"})
        assert resp.status_code == 200
        assert resp.headers["etag"] == 'W/"2"'

    async def test_unknown_lab_test_is_404(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        resp = await client.get(f"{URL}/{uuid.uuid4()}", headers=lh)
        assert_problem(resp, 404, "not_found")


class TestDelete:
    async def test_ordered_test_is_cancelled_not_deleted(self, client, session):
        _, dh = await doctor_and_headers(client, session)
        test = await make_lab_test(session)
        resp = await client.delete(f"{URL}/{test.id}", headers=dh,
                                   params={"reason": "ordered twice"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "cancelled"
        row = await stored(session, test.id)
        assert row.status == "cancelled" and row.cancelled_reason == "ordered twice"
        assert await audit.count_events(session, action="delete", entity_type="lab_test",
                                        entity_id=str(test.id)) == 1

    async def test_collected_test_cannot_be_deleted(self, client, session):
        _, dh = await doctor_and_headers(client, session)
        test = await make_lab_test(session, status="sample_collected")
        resp = await client.delete(f"{URL}/{test.id}", headers=dh)
        assert_problem(resp, 409, "lab_test_not_cancellable")
        assert (await stored(session, test.id)).status == "sample_collected"

    async def test_completed_test_stays(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        test = await make_lab_test(session, status="completed")
        resp = await client.delete(f"{URL}/{test.id}", headers=lh)
        assert_problem(resp, 409, "lab_test_not_cancellable")
        assert (await stored(session, test.id)).status == "completed"


class TestList:
    async def test_filters(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        doctor = await make_doctor(session)
        patient = await make_patient(session)
        consultation = await make_consultation(session, patient_id=patient.id,
                                               doctor_id=doctor.id)
        a = await make_lab_test(session, patient_id=patient.id, doctor_id=doctor.id,
                                consultation_id=consultation.id, test_name="Glucose fasting",
                                ordered_date=datetime(2026, 3, 1, 9, tzinfo=UTC))
        b = await make_lab_test(session, patient_id=patient.id, status="completed",
                                test_name="HbA1c",
                                ordered_date=datetime(2026, 3, 5, 9, tzinfo=UTC))
        await make_lab_test(session, ordered_date=datetime(2026, 3, 2, 9, tzinfo=UTC))

        async def ids(**params: Any) -> list[str]:
            resp = await client.get(URL, headers=lh, params=params)
            assert resp.status_code == 200, resp.text
            return [i["id"] for i in resp.json()["items"]]

        assert await ids(patient_id=str(patient.id)) == [str(b.id), str(a.id)]
        assert await ids(patient_id=str(patient.id), status="completed") == [str(b.id)]
        assert await ids(patient_id=str(patient.id), status="COMPLETED") == [str(b.id)]
        assert await ids(consultation_id=str(consultation.id)) == [str(a.id)]
        assert await ids(ordered_by_doctor_id=str(doctor.id)) == [str(a.id)]
        assert await ids(patient_id=str(patient.id), q="glucose") == [str(a.id)]
        assert await ids(patient_id=str(patient.id), date_from="2026-03-01",
                         date_to="2026-03-01") == [str(a.id)]
        assert await ids(patient_id=str(patient.id), sort="test_name") == [str(a.id),
                                                                           str(b.id)]
        resp = await client.get(URL, headers=lh, params={"patient_id": str(patient.id),
                                                          "page_size": 1})
        assert resp.json()["total"] == 2 and len(resp.json()["items"]) == 1
        assert await audit.count_events(session, action="read", entity_type="lab_test",
                                        entity_id=str(a.id)) >= 1

    async def test_unknown_sort_key_is_422(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        resp = await client.get(URL, headers=lh, params={"sort": "-result_value"})
        body = assert_problem(resp, 422, "validation_error")
        assert body["errors"][0]["field"] == "sort"

    async def test_reversed_date_range_is_422(self, client, session):
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        resp = await client.get(URL, headers=lh, params={"date_from": "2026-03-02",
                                                          "date_to": "2026-03-01"})
        assert_problem(resp, 422, "validation_error")


class TestRoles:
    async def test_receptionist_nurse_and_billing_cannot_read(self, client, session):
        test = await make_lab_test(session)
        for role in (Role.RECEPTIONIST, Role.NURSE, Role.BILLING_OFFICER):
            h = await auth_headers(client, session, role)
            resp = await client.get(f"{URL}/{test.id}", headers=h)
            assert resp.status_code == 403, role

    async def test_helper_advances_over_http(self, client, session):
        _, dh = await doctor_and_headers(client, session)
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        patient = await make_patient(session)
        created = await order_over_http(client, dh, patient.id)
        body = await advance_over_http(client, lh, created["id"], "completed")
        assert body["status"] == "completed"


class TestConcurrency:
    async def test_two_technicians_entering_results_at_once(self, committed_client, db):
        """Both read the test in progress; the row lock (PostgreSQL) or the serialised
        writers (SQLite) let exactly one complete it; the other sees it completed."""
        import asyncio

        from hms.db.session import unit_of_work
        from tests.identity.factories import make_user

        async with unit_of_work(db) as s:
            tech_a = await make_user(s, Role.LAB_TECHNICIAN)
            tech_b = await make_user(s, Role.LAB_TECHNICIAN)
            test = await make_lab_test(s, status="in_progress")
        heads = [{"Authorization": "Bearer " + (await login(committed_client, u.username))[
            "access_token"]} for u in (tech_a, tech_b)]
        results = await asyncio.gather(*(
            committed_client.post(f"{URL}/{test.id}/enter-results", headers=h,
                                  json={"result_value": value})
            for h, value in zip(heads, ("4.0", "5.0"), strict=True)))
        assert sorted(r.status_code for r in results) == [200, 422], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 422)
        assert loser.json()["code"] == "invalid_status_transition"
        winner = next(r for r in results if r.status_code == 200).json()
        async with unit_of_work(db) as s:
            row = await s.get(LabTest, test.id)
            assert row is not None and row.result_value == winner["result_value"]


class TestConsultationCompletion:
    async def test_completion_orders_the_batch_visible_here(self, client, session):
        """``POST /consultations/{id}/complete`` (clinical) orders through
        ``lab.order_tests``; the tests appear under ``/lab-tests?consultation_id=``."""
        doctor, h = await doctor_and_headers(client, session)
        consultation = await make_consultation(session, doctor_id=doctor.id)
        resp = await client.post(f"/api/v1/consultations/{consultation.id}/complete",
                                 headers=h, json={"diagnosis": "anaemia", "lab_tests": [
                                     {"test_name": "CBC"}, {"test_name": "Ferritin"}]})
        assert resp.status_code == 200, resp.text
        assert [t["status"] for t in resp.json()["lab_tests"]] == ["ordered", "ordered"]
        lh = await auth_headers(client, session, Role.LAB_TECHNICIAN)
        resp = await client.get(URL, headers=lh, params={
            "consultation_id": str(consultation.id), "sort": "test_name"})
        assert [t["test_name"] for t in resp.json()["items"]] == ["CBC", "Ferritin"]
        assert {t["ordered_by_doctor_id"] for t in resp.json()["items"]} == {str(doctor.id)}
