"""SH.MR.FRM.05 over HTTP: submit with computed BMI and Morse score, incomplete data,
one form per visit, amendments with optimistic concurrency, closed visits, roles, audit."""

from __future__ import annotations

import asyncio
import copy

import pytest
from sqlalchemy import func, select

from hms.audit import service as audit
from hms.clinical import service as clinical_service
from hms.core.permissions import Role
from hms.forms.models import FormAmendment, FormSubmission, NursingAssessment
from tests.forms.factories import (
    HIGH_RISK_FALL,
    LOW_RISK_FALL,
    NORMAL_VITALS,
    nursing_body,
    submit_nursing,
)
from tests.identity.factories import auth_headers, login, make_user
from tests.visits.factories import make_visit


def _url(visit_id: object) -> str:
    return f"/api/v1/visits/{visit_id}/nursing-assessment"


def _fields(resp) -> list[str]:
    return [e["field"] for e in resp.json()["errors"]]


class TestSubmitNursingAssessment:
    async def test_nurse_submits_full_form_with_bmi_and_morse_computed(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=nursing_body())
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["visit_id"] == str(visit.id)
        assert body["patient_id"] == str(visit.patient_id)
        assert body["vital_signs"]["bmi"] == 22.9  # 70 / 1.75^2
        assert body["vital_signs"]["pulse_bpm"] == 78
        assert body["fall_risk_assessment"]["total_score"] == 100
        assert body["fall_risk_assessment"]["risk_level"] == "high"
        assert body["pain_assessment"] == {"pain_score": 4, "site": "lower back",
                                           "character": "dull", "onset": "gradual",
                                           "duration": "3 days"}
        sub = body["submission"]
        assert sub["form_code"] == "SH.MR.FRM.05"
        assert sub["form_version"] == "1.0"
        assert sub["status"] == "completed"
        assert sub["version"] == 1
        assert sub["submitted_by"] is not None and sub["submitted_at"]
        assert body["amendments"] == []
        assert resp.headers["etag"] == 'W/"1"'
        assert resp.headers["location"] == _url(visit.id)

    async def test_form_leaves_submission_row_and_linked_vital_signs(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        body = await submit_nursing(client, h, visit.id)
        row = await session.scalar(select(FormSubmission).where(
            FormSubmission.visit_id == visit.id))
        assert row is not None
        assert (row.form_code, row.form_version, row.status, row.version) == (
            "SH.MR.FRM.05", "1.0", "completed", 1)
        na = await session.scalar(select(NursingAssessment).where(
            NursingAssessment.visit_id == visit.id))
        assert na is not None and str(na.vital_signs_id) == body["vital_signs"]["id"]
        vitals = await clinical_service.get_vital_signs(session, na.vital_signs_id)
        assert vitals.visit_id == visit.id and vitals.patient_id == visit.patient_id
        assert vitals.bmi == 22.9

    async def test_create_is_audited_with_patient(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        body = await submit_nursing(client, h, visit.id)
        events = await audit.list_events(session, entity_type="nursing_assessment",
                                         action="create")
        assert len(events) == 1
        assert events[0].entity_id == body["id"]
        assert events[0].patient_id == visit.patient_id
        assert events[0].changes["after"]["fall_risk_assessment"]["total_score"] == 100

    @pytest.mark.parametrize(("items", "total", "band"), [
        (LOW_RISK_FALL, 0, "low"),
        ({**LOW_RISK_FALL, "iv_therapy": True}, 20, "low"),
        ({**LOW_RISK_FALL, "history_of_falling": True}, 25, "moderate"),
        ({**LOW_RISK_FALL, "history_of_falling": True, "secondary_diagnosis": True},
         40, "moderate"),
        ({**LOW_RISK_FALL, "history_of_falling": True, "iv_therapy": True}, 45, "high"),
        ({**LOW_RISK_FALL, "ambulatory_aid": "furniture", "gait": "impaired"}, 50, "high"),
    ])
    async def test_morse_total_and_band(self, client, session, items, total, band):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        body = await submit_nursing(client, h, visit.id, fall_risk_assessment=items)
        assert body["fall_risk_assessment"]["total_score"] == total
        assert body["fall_risk_assessment"]["risk_level"] == band

    async def test_bmi_absent_without_height(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        vitals = {k: v for k, v in NORMAL_VITALS.items() if k != "height_cm"}
        body = await submit_nursing(client, h, visit.id, vital_signs=vitals)
        assert body["vital_signs"]["bmi"] is None

    @pytest.mark.parametrize("field", ["total_score", "risk_level"])
    async def test_client_sent_morse_result_is_rejected(self, client, session, field):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        fall = {**HIGH_RISK_FALL, field: 0 if field == "total_score" else "low"}
        resp = await client.post(_url(visit.id), headers=h,
                                 json=nursing_body(fall_risk_assessment=fall))
        assert resp.status_code == 422
        assert f"fall_risk_assessment.{field}" in _fields(resp)

    async def test_unknown_morse_choice_is_422(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=nursing_body(
            fall_risk_assessment={**HIGH_RISK_FALL, "gait": "limping"}))
        assert resp.status_code == 422
        assert _fields(resp) == ["fall_risk_assessment.gait"]

    async def test_nurse_can_save_a_draft_without_sections(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json={
            "status": "draft", "pain_assessment": {"pain_score": 2}})
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["submission"]["status"] == "draft"
        assert body["vital_signs"] is None and body["fall_risk_assessment"] is None
        assert body["pain_assessment"]["pain_score"] == 2

    async def test_admin_may_submit(self, client, session):
        h = await auth_headers(client, session, Role.ADMIN)
        visit = await make_visit(session)
        await submit_nursing(client, h, visit.id)


class TestIncompleteOrInvalidData:
    @pytest.mark.parametrize("section",
                             ["vital_signs", "pain_assessment", "fall_risk_assessment"])
    async def test_each_missing_section_is_named(self, client, session, section):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        body = nursing_body()
        del body[section]
        resp = await client.post(_url(visit.id), headers=h, json=body)
        assert resp.status_code == 422
        problem = resp.json()
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert _fields(resp) == [section]
        assert section in problem["detail"]

    async def test_every_missing_section_is_listed_at_once(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json={"notes": "only notes"})
        assert resp.status_code == 422
        assert _fields(resp) == ["vital_signs", "pain_assessment", "fall_risk_assessment"]

    async def test_missing_vitals_are_named_one_by_one(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        vitals = copy.deepcopy(NORMAL_VITALS)
        del vitals["pulse_bpm"], vitals["oxygen_saturation_percent"]
        resp = await client.post(_url(visit.id), headers=h,
                                 json=nursing_body(vital_signs=vitals))
        assert resp.status_code == 422
        assert _fields(resp) == ["vital_signs.pulse_bpm",
                                 "vital_signs.oxygen_saturation_percent"]

    async def test_missing_morse_item_is_named(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        fall = {k: v for k, v in HIGH_RISK_FALL.items() if k != "mental_status"}
        resp = await client.post(_url(visit.id), headers=h,
                                 json=nursing_body(fall_risk_assessment=fall))
        assert resp.status_code == 422
        assert _fields(resp) == ["fall_risk_assessment.mental_status"]

    @pytest.mark.parametrize(("field", "value"), [
        ("pulse_bpm", 250), ("temperature_celsius", 29.0), ("oxygen_saturation_percent", 101),
        ("blood_pressure_systolic", 300), ("respiratory_rate_per_min", 5),
    ])
    async def test_out_of_range_vital_is_named(self, client, session, field, value):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=nursing_body(
            vital_signs={**NORMAL_VITALS, field: value}))
        assert resp.status_code == 422
        assert _fields(resp) == [f"vital_signs.{field}"]

    @pytest.mark.parametrize("score", [-1, 11])
    async def test_pain_score_outside_0_to_10_is_422(self, client, session, score):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h,
                                 json=nursing_body(pain_assessment={"pain_score": score}))
        assert resp.status_code == 422
        assert _fields(resp) == ["pain_assessment.pain_score"]

    async def test_nothing_is_stored_on_422(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        await client.post(_url(visit.id), headers=h, json={"notes": "x"})
        count = await session.scalar(select(func.count()).select_from(FormSubmission))
        assert count == 0


class TestOneNursingAssessmentPerVisit:
    async def test_second_post_is_409_pointing_to_put(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        await submit_nursing(client, h, visit.id)
        resp = await client.post(_url(visit.id), headers=h, json=nursing_body())
        assert resp.status_code == 409
        assert resp.json()["code"] == "nursing_assessment_exists"
        assert "PUT" in resp.json()["detail"]

    async def test_unknown_visit_is_404(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        resp = await client.post(_url("00000000-0000-4000-8000-000000000000"), headers=h,
                                 json=nursing_body())
        assert resp.status_code == 404


class TestClosedVisitLocksForm:
    @pytest.mark.parametrize("status", ["closed", "cancelled"])
    async def test_post_on_closed_visit_is_409(self, client, session, status):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session, status=status)
        resp = await client.post(_url(visit.id), headers=h, json=nursing_body())
        assert resp.status_code == 409
        assert resp.json()["code"] == "visit_closed"

    async def test_put_after_visit_closed_is_409_and_get_still_works(self, client, session):
        nurse = await auth_headers(client, session, Role.NURSE)
        physician = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        await submit_nursing(client, nurse, visit.id)
        close = await client.put(f"/api/v1/visits/{visit.id}", headers=physician,
                                 json={"status": "closed", "version": 1})
        assert close.status_code == 200, close.text
        resp = await client.put(_url(visit.id), headers={**nurse, "If-Match": 'W/"1"'},
                                json=nursing_body(notes="late edit"))
        assert resp.status_code == 409
        assert resp.json()["code"] == "visit_closed"
        read = await client.get(_url(visit.id), headers=nurse)
        assert read.status_code == 200
        assert read.json()["notes"] == "Alert, ambulating with walker."


class TestReadNursingAssessment:
    async def test_physician_reads_form_with_etag_and_audit(self, client, session):
        nurse = await auth_headers(client, session, Role.NURSE)
        physician = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        created = await submit_nursing(client, nurse, visit.id)
        resp = await client.get(_url(visit.id), headers=physician)
        assert resp.status_code == 200
        assert resp.headers["etag"] == 'W/"1"'
        body = resp.json()
        assert body["id"] == created["id"]
        assert body["fall_risk_assessment"]["risk_level"] == "high"
        assert body["vital_signs"]["bmi"] == 22.9
        events = await audit.list_events(session, entity_type="nursing_assessment",
                                         action="read")
        assert [e.entity_id for e in events] == [created["id"]]
        assert events[0].patient_id == visit.patient_id

    async def test_visit_without_form_is_404_form_not_found(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        resp = await client.get(_url(visit.id), headers=h)
        assert resp.status_code == 404
        assert resp.json()["code"] == "form_not_found"

    async def test_unknown_visit_is_404_not_found(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        resp = await client.get(_url("00000000-0000-4000-8000-000000000000"), headers=h)
        assert resp.status_code == 404
        assert resp.json()["code"] == "not_found"


class TestRoles:
    async def test_physician_cannot_post(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=nursing_body())
        assert resp.status_code == 403

    async def test_physician_cannot_put(self, client, session):
        nurse = await auth_headers(client, session, Role.NURSE)
        physician = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        await submit_nursing(client, nurse, visit.id)
        resp = await client.put(_url(visit.id), headers=physician,
                                json=nursing_body(version=1))
        assert resp.status_code == 403

    async def test_no_token_is_401(self, client, session):
        visit = await make_visit(session)
        assert (await client.get(_url(visit.id))).status_code == 401
        assert (await client.post(_url(visit.id), json=nursing_body())).status_code == 401

    async def test_role_without_form_rights_cannot_read(self, client, session):
        h = await auth_headers(client, session, Role.RECEPTIONIST)
        visit = await make_visit(session)
        assert (await client.get(_url(visit.id), headers=h)).status_code == 403


class TestAmendNursingAssessment:
    async def test_put_amends_completed_form_and_keeps_previous_answers(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        created = await submit_nursing(client, h, visit.id)
        resp = await client.put(_url(visit.id), headers={**h, "If-Match": 'W/"1"'},
                                json=nursing_body(
                                    fall_risk_assessment=LOW_RISK_FALL,
                                    pain_assessment={"pain_score": 1},
                                    vital_signs={**NORMAL_VITALS, "pulse_bpm": 88},
                                    amendment_reason="Fall history entered in error"))
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert resp.headers["etag"] == 'W/"2"'
        assert body["submission"]["status"] == "amended"
        assert body["submission"]["version"] == 2
        assert body["submission"]["id"] == created["submission"]["id"]
        assert body["fall_risk_assessment"]["total_score"] == 0
        assert body["fall_risk_assessment"]["risk_level"] == "low"
        assert body["pain_assessment"]["pain_score"] == 1
        assert body["vital_signs"]["pulse_bpm"] == 88
        assert body["vital_signs"]["id"] == created["vital_signs"]["id"]  # same row updated
        [amendment] = body["amendments"]
        assert amendment["previous_version"] == 1
        assert amendment["reason"] == "Fall history entered in error"
        old = amendment["previous_answers"]
        assert old["fall_risk_assessment"]["total_score"] == 100
        assert old["pain_assessment"]["pain_score"] == 4
        assert old["vital_signs"]["pulse_bpm"] == 78
        assert old["submission"]["status"] == "completed"
        rows = list(await session.scalars(select(FormAmendment)))
        assert len(rows) == 1 and rows[0].previous_answers["notes"] == created["notes"]

    async def test_amendment_is_audited_with_diff(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        created = await submit_nursing(client, h, visit.id)
        await client.put(_url(visit.id), headers=h, json=nursing_body(
            version=1, notes="Corrected notes", amendment_reason="typo"))
        [event] = await audit.list_events(session, entity_type="nursing_assessment",
                                          action="update")
        assert event.entity_id == created["id"]
        assert event.patient_id == visit.patient_id
        assert event.changes["before"] == {"status": "completed",
                                           "notes": "Alert, ambulating with walker."}
        assert event.changes["after"] == {"status": "amended", "notes": "Corrected notes"}
        assert event.changes["version"] == {"before": 1, "after": 2}
        assert event.changes["amendment_reason"] == "typo"

    async def test_each_amendment_keeps_its_own_history_row(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        await submit_nursing(client, h, visit.id)
        for version, notes in ((1, "second"), (2, "third")):
            resp = await client.put(_url(visit.id), headers=h,
                                    json=nursing_body(version=version, notes=notes))
            assert resp.status_code == 200, resp.text
        body = (await client.get(_url(visit.id), headers=h)).json()
        assert body["submission"]["version"] == 3
        assert [a["previous_version"] for a in body["amendments"]] == [1, 2]
        assert [a["previous_answers"]["notes"] for a in body["amendments"]] == [
            "Alert, ambulating with walker.", "second"]

    async def test_stale_version_is_412(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        await submit_nursing(client, h, visit.id)
        ok = await client.put(_url(visit.id), headers=h, json=nursing_body(version=1))
        assert ok.status_code == 200
        stale = await client.put(_url(visit.id), headers={**h, "If-Match": 'W/"1"'},
                                 json=nursing_body(notes="lost update"))
        assert stale.status_code == 412
        assert stale.json()["code"] == "precondition_failed"

    async def test_no_version_is_428(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        await submit_nursing(client, h, visit.id)
        resp = await client.put(_url(visit.id), headers=h, json=nursing_body())
        assert resp.status_code == 428

    async def test_if_match_and_body_version_must_agree(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        await submit_nursing(client, h, visit.id)
        resp = await client.put(_url(visit.id), headers={**h, "If-Match": 'W/"2"'},
                                json=nursing_body(version=1))
        assert resp.status_code == 412

    async def test_put_without_form_is_404(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        resp = await client.put(_url(visit.id), headers=h, json=nursing_body(version=1))
        assert resp.status_code == 404

    async def test_completed_form_cannot_become_draft(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        await submit_nursing(client, h, visit.id)
        resp = await client.put(_url(visit.id), headers=h,
                                json=nursing_body(version=1, status="draft"))
        assert resp.status_code == 422
        assert resp.json()["code"] == "completed_form_cannot_become_draft"

    async def test_amendment_must_stay_complete(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        await submit_nursing(client, h, visit.id)
        body = nursing_body(version=1)
        del body["pain_assessment"]
        resp = await client.put(_url(visit.id), headers=h, json=body)
        assert resp.status_code == 422
        assert _fields(resp) == ["pain_assessment"]

    async def test_completing_a_draft_is_not_an_amendment(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        draft = await client.post(_url(visit.id), headers=h,
                                  json={"status": "draft", "notes": "started"})
        assert draft.status_code == 201
        incomplete = await client.put(_url(visit.id), headers=h,
                                      json={"version": 1, "notes": "done"})
        assert incomplete.status_code == 422
        assert _fields(incomplete) == ["vital_signs", "pain_assessment",
                                       "fall_risk_assessment"]
        resp = await client.put(_url(visit.id), headers=h, json=nursing_body(version=1))
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["submission"]["status"] == "completed"
        assert body["submission"]["version"] == 2
        assert body["amendments"] == []
        assert body["vital_signs"]["bmi"] == 22.9

    async def test_draft_may_drop_a_section(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        await client.post(_url(visit.id), headers=h, json={
            "status": "draft", "pain_assessment": {"pain_score": 3},
            "fall_risk_assessment": LOW_RISK_FALL})
        resp = await client.put(_url(visit.id), headers=h, json={
            "status": "draft", "version": 1, "fall_risk_assessment": HIGH_RISK_FALL})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["pain_assessment"] is None
        assert body["fall_risk_assessment"]["total_score"] == 100
        assert body["submission"]["status"] == "draft"


@pytest.mark.committed
class TestConcurrentEdits:
    async def test_two_nurses_amending_at_once_one_gets_412(self, committed_client, db):
        from hms.db.session import unit_of_work

        async with unit_of_work(db) as s:
            nurse_a = await make_user(s, Role.NURSE)
            nurse_b = await make_user(s, Role.NURSE)
            visit = await make_visit(s)
        ha = {"Authorization": "Bearer "
              + (await login(committed_client, nurse_a.username))["access_token"]}
        hb = {"Authorization": "Bearer "
              + (await login(committed_client, nurse_b.username))["access_token"]}
        await submit_nursing(committed_client, ha, visit.id)
        results = await asyncio.gather(
            committed_client.put(_url(visit.id), headers=ha,
                                 json=nursing_body(version=1, notes="A")),
            committed_client.put(_url(visit.id), headers=hb,
                                 json=nursing_body(version=1, notes="B")),
        )
        assert sorted(r.status_code for r in results) == [200, 412]
        final = await committed_client.get(_url(visit.id), headers=ha)
        winner = next(r for r in results if r.status_code == 200).json()
        assert final.json()["notes"] == winner["notes"]
        assert len(final.json()["amendments"]) == 1

    async def test_two_nurses_posting_at_once_one_gets_409(self, committed_client, db):
        from hms.db.session import unit_of_work

        async with unit_of_work(db) as s:
            nurse_a = await make_user(s, Role.NURSE)
            nurse_b = await make_user(s, Role.NURSE)
            visit = await make_visit(s)
        ha = {"Authorization": "Bearer "
              + (await login(committed_client, nurse_a.username))["access_token"]}
        hb = {"Authorization": "Bearer "
              + (await login(committed_client, nurse_b.username))["access_token"]}
        results = await asyncio.gather(
            committed_client.post(_url(visit.id), headers=ha, json=nursing_body()),
            committed_client.post(_url(visit.id), headers=hb, json=nursing_body()),
        )
        assert sorted(r.status_code for r in results) == [201, 409]
