"""SH.MR.FRM.04 over HTTP: physician fills it, contrast safety screening and rules
(ACR Manual on Contrast Media 2024), several studies per visit, closed visits, roles, audit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from hms.audit import service as audit
from hms.core.permissions import Role
from hms.forms.models import FormSubmission, RadiologyAssessment
from tests.forms.factories import contrast_body, radiology_body
from tests.identity.factories import auth_headers
from tests.patients.factories import make_patient, national_id
from tests.visits.factories import make_visit


def _url(visit_id: object) -> str:
    return f"/api/v1/visits/{visit_id}/radiology-assessment"


def _fields(resp) -> list[str]:
    return [e["field"] for e in resp.json()["errors"]]


async def _visit_for(session, gender: str, born: date):
    p = await make_patient(session, gender=gender, date_of_birth=born,
                           national_id=national_id(born, gender=gender))
    return await make_visit(session, p.id)


async def _female_visit(session):
    return await _visit_for(session, "female", date(1992, 5, 4))


class TestSubmitRadiologyAssessment:
    async def test_physician_submits_form_without_contrast(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=radiology_body())
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["modality"] == "CT" and body["body_region"] == "Chest"
        assert body["contrast_used"] is False and body["contrast_type"] is None
        assert body["impression"] == "Normal chest CT."
        assert body["patient_id"] == str(visit.patient_id)
        sub = body["submission"]
        assert (sub["form_code"], sub["form_version"], sub["status"], sub["version"]) == (
            "SH.MR.FRM.04", "1.0", "completed", 1)
        assert resp.headers["etag"] == 'W/"1"'
        row = await session.scalar(select(FormSubmission).where(
            FormSubmission.visit_id == visit.id))
        assert row is not None and row.form_code == "SH.MR.FRM.04"
        [event] = await audit.list_events(session, entity_type="radiology_assessment",
                                          action="create")
        assert event.entity_id == body["id"] and event.patient_id == visit.patient_id

    @pytest.mark.parametrize(("sent", "stored"), [
        ("ct", "CT"), ("mr", "MR"), ("MRI", "MR"), ("PT", "PET"), ("DX", "XR"),
        ("RF", "FL"), ("BMD", "DXA"), ("other", "other"), ("OT", "other"), ("us", "US"),
    ])
    async def test_modality_codes_lower_case_and_dicom_aliases(self, client, session, sent,
                                                               stored):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=radiology_body(modality=sent))
        assert resp.status_code == 201, resp.text
        assert resp.json()["modality"] == stored

    async def test_unknown_modality_is_422(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h,
                                 json=radiology_body(modality="XYZ"))
        assert resp.status_code == 422
        assert _fields(resp) == ["modality"]

    @pytest.mark.parametrize("field", ["clinical_indication", "body_region", "modality"])
    async def test_required_field_missing_is_named(self, client, session, field):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        body = radiology_body()
        del body[field]
        resp = await client.post(_url(visit.id), headers=h, json=body)
        assert resp.status_code == 422
        assert _fields(resp) == [field]

    async def test_blank_clinical_indication_is_422(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h,
                                 json=radiology_body(clinical_indication="   "))
        assert resp.status_code == 422
        assert _fields(resp) == ["clinical_indication"]

    async def test_clean_contrast_screening_is_stored(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=contrast_body())
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["contrast_type"] == "iodinated" and body["contrast_agent"] == "iohexol"
        assert body["contrast_allergy"] is False and body["egfr_ml_min_1_73m2"] == 85.0
        assert body["pregnancy_status"] == "not_applicable"
        assert body["premedication_confirmed"] is False


class TestContrastScreeningRequired:
    async def test_contrast_without_screening_names_every_missing_field(self, client,
                                                                        session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h,
                                 json=radiology_body(contrast_used=True))
        assert resp.status_code == 422
        assert _fields(resp) == ["contrast_type", "contrast_agent", "contrast_allergy",
                                 "pregnancy_status", "egfr_ml_min_1_73m2"]

    async def test_creatinine_alone_satisfies_renal_screening(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        body = contrast_body(serum_creatinine_mg_dl=0.9)
        del body["egfr_ml_min_1_73m2"]
        resp = await client.post(_url(visit.id), headers=h, json=body)
        assert resp.status_code == 201, resp.text

    async def test_barium_needs_no_renal_function(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        body = contrast_body(modality="FL", contrast_type="barium",
                             contrast_agent="barium sulfate")
        del body["egfr_ml_min_1_73m2"]
        resp = await client.post(_url(visit.id), headers=h, json=body)
        assert resp.status_code == 201, resp.text

    async def test_contrast_details_without_contrast_are_422(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=radiology_body(
            contrast_agent="iohexol", contrast_type="iodinated"))
        assert resp.status_code == 422
        assert _fields(resp) == ["contrast_type", "contrast_agent"]

    @pytest.mark.parametrize(("field", "value"), [
        ("egfr_ml_min_1_73m2", 250), ("egfr_ml_min_1_73m2", -1),
        ("serum_creatinine_mg_dl", 0.05), ("serum_creatinine_mg_dl", 25),
    ])
    async def test_renal_values_out_of_range_are_422(self, client, session, field, value):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h,
                                 json=contrast_body(**{field: value}))
        assert resp.status_code == 422
        assert _fields(resp) == [field]

    async def test_male_patient_cannot_be_pregnant(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)  # factory patient is male
        resp = await client.post(_url(visit.id), headers=h,
                                 json=contrast_body(pregnancy_status="pregnant"))
        assert resp.status_code == 422
        assert _fields(resp) == ["pregnancy_status"]
        count = await session.scalar(select(func.count()).select_from(RadiologyAssessment))
        assert count == 0


class TestContrastSafetyRules:
    async def test_allergy_without_premedication_is_refused(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h,
                                 json=contrast_body(contrast_allergy=True))
        assert resp.status_code == 422
        assert resp.json()["code"] == "contrast_allergy_premedication_required"
        assert await session.scalar(select(func.count()).select_from(FormSubmission)) == 0

    async def test_allergy_with_premedication_confirmed_is_stored(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=contrast_body(
            contrast_allergy=True, premedication_confirmed=True))
        assert resp.status_code == 201, resp.text
        assert resp.json()["premedication_confirmed"] is True
        row = await session.scalar(select(RadiologyAssessment))
        assert row is not None and row.premedication_confirmed is True
        [event] = await audit.list_events(session, entity_type="radiology_assessment",
                                          action="create")
        assert event.changes["after"]["premedication_confirmed"] is True

    @pytest.mark.parametrize("contrast_type", ["iodinated", "gadolinium"])
    async def test_low_egfr_needs_acknowledgement(self, client, session, contrast_type):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        body = contrast_body(contrast_type=contrast_type, egfr_ml_min_1_73m2=25.0)
        refused = await client.post(_url(visit.id), headers=h, json=body)
        assert refused.status_code == 422
        assert refused.json()["code"] == "contrast_renal_risk_unacknowledged"
        ok = await client.post(_url(visit.id), headers=h,
                               json={**body, "renal_risk_acknowledged": True})
        assert ok.status_code == 201, ok.text
        assert ok.json()["renal_risk_acknowledged"] is True

    async def test_egfr_30_is_not_below_threshold(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h,
                                 json=contrast_body(egfr_ml_min_1_73m2=30.0))
        assert resp.status_code == 201, resp.text

    async def test_low_egfr_with_microbubbles_is_allowed(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=contrast_body(
            modality="US", contrast_type="microbubble", contrast_agent="sulfur hexafluoride",
            egfr_ml_min_1_73m2=20.0))
        assert resp.status_code == 201, resp.text

    async def test_high_creatinine_alone_is_estimated_and_refused(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await _visit_for(session, "male", date(1950, 3, 1))
        body = contrast_body(serum_creatinine_mg_dl=4.0)
        del body["egfr_ml_min_1_73m2"]
        resp = await client.post(_url(visit.id), headers=h, json=body)
        assert resp.status_code == 422
        problem = resp.json()
        assert problem["code"] == "contrast_renal_risk_unacknowledged"
        assert "CKD-EPI" in problem["detail"]

    async def test_gadolinium_in_pregnancy_needs_acknowledgement(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await _female_visit(session)
        body = contrast_body(modality="MR", contrast_type="gadolinium",
                             contrast_agent="gadoterate", pregnancy_status="pregnant")
        refused = await client.post(_url(visit.id), headers=h, json=body)
        assert refused.status_code == 422
        assert refused.json()["code"] == "gadolinium_pregnancy_unacknowledged"
        ok = await client.post(_url(visit.id), headers=h,
                               json={**body, "pregnancy_risk_acknowledged": True})
        assert ok.status_code == 201, ok.text
        assert ok.json()["pregnancy_risk_acknowledged"] is True

    async def test_iodinated_contrast_in_pregnancy_is_not_withheld(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await _female_visit(session)
        resp = await client.post(_url(visit.id), headers=h,
                                 json=contrast_body(pregnancy_status="pregnant"))
        assert resp.status_code == 201, resp.text

    async def test_every_broken_rule_is_listed(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await _female_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=contrast_body(
            modality="MR", contrast_type="gadolinium", contrast_agent="gadobutrol",
            contrast_allergy=True, egfr_ml_min_1_73m2=15.0, pregnancy_status="pregnant"))
        assert resp.status_code == 422
        problem = resp.json()
        assert problem["code"] == "contrast_allergy_premedication_required"
        assert [e["code"] for e in problem["errors"]] == [
            "contrast_allergy_premedication_required", "contrast_renal_risk_unacknowledged",
            "gadolinium_pregnancy_unacknowledged"]
        assert _fields(resp) == ["premedication_confirmed", "renal_risk_acknowledged",
                                 "pregnancy_risk_acknowledged"]


class TestListRadiologyAssessments:
    async def test_several_studies_listed_newest_first_with_audit(self, client, session):
        physician = await auth_headers(client, session, Role.PHYSICIAN)
        nurse = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        ids = []
        for modality in ("XR", "CT", "US"):
            resp = await client.post(_url(visit.id), headers=physician,
                                     json=radiology_body(modality=modality))
            ids.append(resp.json()["id"])
        resp = await client.get(_url(visit.id), headers=nurse)
        assert resp.status_code == 200
        body = resp.json()
        assert body["total"] == 3 and body["page"] == 1
        assert [i["id"] for i in body["items"]] == list(reversed(ids))
        assert [i["modality"] for i in body["items"]] == ["US", "CT", "XR"]
        events = await audit.list_events(session, entity_type="radiology_assessment",
                                         action="read")
        assert sorted(e.entity_id for e in events) == sorted(ids)
        assert {e.patient_id for e in events} == {visit.patient_id}

    async def test_pagination(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        for _ in range(3):
            await client.post(_url(visit.id), headers=h, json=radiology_body())
        resp = await client.get(_url(visit.id), headers=h, params={"page": 2, "limit": 2})
        body = resp.json()
        assert body["total"] == 3 and len(body["items"]) == 1 and body["page_size"] == 2

    async def test_empty_list_for_visit_without_studies(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        resp = await client.get(_url(visit.id), headers=h)
        assert resp.status_code == 200
        assert resp.json()["items"] == [] and resp.json()["total"] == 0

    async def test_unknown_visit_is_404(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        resp = await client.get(_url("00000000-0000-4000-8000-000000000000"), headers=h)
        assert resp.status_code == 404

    async def test_closed_visit_can_be_read(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session)
        await client.post(_url(visit.id), headers=h, json=radiology_body())
        close = await client.put(f"/api/v1/visits/{visit.id}", headers=h,
                                 json={"status": "closed", "version": 1})
        assert close.status_code == 200, close.text
        resp = await client.get(_url(visit.id), headers=h)
        assert resp.status_code == 200 and resp.json()["total"] == 1


class TestRadiologyRolesAndLocks:
    async def test_nurse_cannot_post(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=radiology_body())
        assert resp.status_code == 403

    async def test_admin_may_post(self, client, session):
        h = await auth_headers(client, session, Role.ADMIN)
        visit = await make_visit(session)
        resp = await client.post(_url(visit.id), headers=h, json=radiology_body())
        assert resp.status_code == 201

    @pytest.mark.parametrize("status", ["closed", "cancelled"])
    async def test_closed_visit_is_409(self, client, session, status):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        visit = await make_visit(session, status=status)
        resp = await client.post(_url(visit.id), headers=h, json=radiology_body())
        assert resp.status_code == 409
        assert resp.json()["code"] == "visit_closed"

    async def test_no_token_is_401(self, client, session):
        visit = await make_visit(session)
        assert (await client.post(_url(visit.id), json=radiology_body())).status_code == 401
