"""Assessment statistics for the reports, and the form summaries other modules read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hms.clinical import service as clinical_service
from hms.clinical import stats as clinical_stats
from hms.clinical.schemas import VitalSignsInput
from hms.core.permissions import Role
from hms.forms import service as forms_service
from hms.forms import stats as forms_stats
from hms.visits.models import Visit
from tests.forms.factories import (
    LOW_RISK_FALL,
    NORMAL_VITALS,
    nursing_body,
    radiology_body,
    submit_nursing,
)
from tests.identity.factories import auth_headers
from tests.visits.factories import make_visit

HIGH_VITALS = {"temperature_celsius": 38.5, "pulse_bpm": 120, "blood_pressure_systolic": 150,
               "blood_pressure_diastolic": 95, "respiratory_rate_per_min": 24,
               "oxygen_saturation_percent": 92.0}
LOW_VITALS = {"temperature_celsius": 35.5, "pulse_bpm": 50, "blood_pressure_systolic": 85,
              "blood_pressure_diastolic": 50, "respiratory_rate_per_min": 10,
              "oxygen_saturation_percent": 96.0}


@pytest.fixture
async def filled(client, session):
    """Four visits: high risk + normal vitals (and a radiology form), low risk + high vitals,
    moderate risk + low vitals, and a draft."""
    nurse = await auth_headers(client, session, Role.NURSE)
    physician = await auth_headers(client, session, Role.PHYSICIAN)
    visits = [await make_visit(session) for _ in range(4)]
    await submit_nursing(client, nurse, visits[0].id)  # Morse 100, pain 4
    await submit_nursing(client, nurse, visits[1].id, vital_signs=HIGH_VITALS,
                         fall_risk_assessment=LOW_RISK_FALL,
                         pain_assessment={"pain_score": 8})
    await submit_nursing(client, nurse, visits[2].id, vital_signs=LOW_VITALS,
                         fall_risk_assessment={**LOW_RISK_FALL, "history_of_falling": True},
                         pain_assessment={"pain_score": 8})
    draft = await client.post(f"/api/v1/visits/{visits[3].id}/nursing-assessment",
                              headers=nurse, json={"status": "draft",
                                                   "pain_assessment": {"pain_score": 10},
                                                   "fall_risk_assessment": LOW_RISK_FALL})
    assert draft.status_code == 201
    rad = await client.post(f"/api/v1/visits/{visits[0].id}/radiology-assessment",
                            headers=physician, json=radiology_body())
    assert rad.status_code == 201
    return visits


class TestAssessmentStatistics:
    async def test_forms_by_code_and_status(self, filled, session):
        stats = await forms_stats.assessment_statistics(session, None, None)
        assert stats["forms"]["SH.MR.FRM.05"] == {"draft": 1, "completed": 3, "amended": 0}
        assert stats["forms"]["SH.MR.FRM.04"] == {"draft": 0, "completed": 1, "amended": 0}
        assert stats["forms_total"] == 5

    async def test_fall_risk_bands_and_pain_histogram_skip_drafts(self, filled, session):
        stats = await forms_stats.assessment_statistics(session, None, None)
        assert stats["fall_risk_bands"] == {"low": 1, "moderate": 1, "high": 1}
        assert stats["pain_scores"] == {**{str(i): 0 for i in range(11)}, "4": 1, "8": 2}

    async def test_out_of_range_vitals(self, filled, session):
        oor = (await forms_stats.assessment_statistics(session, None, None))[
            "out_of_range_vitals"]
        assert oor == {
            "temperature_high": 1, "temperature_low": 1, "pulse_high": 1, "pulse_low": 1,
            "systolic_high": 1, "systolic_low": 1, "diastolic_high": 1,
            "oxygen_saturation_low": 1, "respiratory_rate_high": 1,
            "respiratory_rate_low": 1, "total": 10, "sets_with_any": 2, "sets_recorded": 3,
        }

    async def test_window_excludes_other_times(self, filled, session):
        future = datetime.now(UTC) + timedelta(days=1)
        stats = await forms_stats.assessment_statistics(session, future, None)
        assert stats["forms_total"] == 0
        assert stats["fall_risk_bands"] == {"low": 0, "moderate": 0, "high": 0}
        assert sum(stats["pain_scores"].values()) == 0
        assert stats["out_of_range_vitals"]["sets_recorded"] == 0
        past = datetime.now(UTC) - timedelta(days=1)
        assert (await forms_stats.assessment_statistics(session, past, future))[
            "forms_total"] == 5

    async def test_high_fall_risk_visit_count(self, filled, session):
        ids = [v.id for v in filled]
        assert await forms_stats.high_fall_risk_visit_count(session, ids) == 1
        assert await forms_stats.high_fall_risk_visit_count(session, ids[1:]) == 0
        assert await forms_stats.high_fall_risk_visit_count(session, []) == 0
        # The same visits as a statement: one query, same answer.
        assert await forms_stats.high_fall_risk_visit_count(
            session, select(Visit.id).where(Visit.id.in_(ids))) == 1
        assert await forms_stats.high_fall_risk_visit_count(
            session, select(Visit.id).where(Visit.id.in_(ids[1:]))) == 0


class TestOutOfRangeThresholds:
    @pytest.mark.parametrize(("values", "expected"), [
        ({"temperature_celsius": 38.0}, {"temperature_high": 1}),
        ({"temperature_celsius": 37.9}, {}),
        ({"temperature_celsius": 36.0}, {}),
        ({"temperature_celsius": 35.9}, {"temperature_low": 1}),
        ({"pulse_bpm": 100}, {}), ({"pulse_bpm": 101}, {"pulse_high": 1}),
        ({"pulse_bpm": 60}, {}), ({"pulse_bpm": 59}, {"pulse_low": 1}),
        ({"blood_pressure_systolic": 139, "blood_pressure_diastolic": 89}, {}),
        ({"blood_pressure_systolic": 140, "blood_pressure_diastolic": 90},
         {"systolic_high": 1, "diastolic_high": 1}),
        ({"blood_pressure_systolic": 89}, {"systolic_low": 1}),
        ({"oxygen_saturation_percent": 95.0}, {}),
        ({"oxygen_saturation_percent": 94.9}, {"oxygen_saturation_low": 1}),
        ({"respiratory_rate_per_min": 20}, {}),
        ({"respiratory_rate_per_min": 21}, {"respiratory_rate_high": 1}),
        ({"respiratory_rate_per_min": 12}, {}),
        ({"respiratory_rate_per_min": 11}, {"respiratory_rate_low": 1}),
        ({}, {}),
    ])
    async def test_boundaries(self, session, values, expected):
        visit = await make_visit(session)
        await clinical_service.record_vital_signs(
            session, patient_id=visit.patient_id, visit_id=visit.id,
            data=VitalSignsInput(**values), recorded_by=None)
        counts = await clinical_stats.out_of_range_counts(session, None, None)
        flagged = {k: v for k, v in counts.items()
                   if v and k not in ("total", "sets_with_any", "sets_recorded")}
        assert flagged == expected
        assert counts["total"] == sum(expected.values())
        assert counts["sets_with_any"] == (1 if expected else 0)
        assert counts["sets_recorded"] == 1


class TestSummariesForVisits:
    async def test_submissions_grouped_by_visit_newest_first(self, filled, session):
        no_forms = await make_visit(session)
        ids = [filled[0].id, filled[3].id, no_forms.id]
        out = await forms_service.summaries_for_visits(session, ids)
        assert set(out) == set(ids)
        assert [s.form_code for s in out[filled[0].id]] == ["SH.MR.FRM.04", "SH.MR.FRM.05"]
        assert [s.status for s in out[filled[3].id]] == ["draft"]
        assert out[no_forms.id] == []
        assert await forms_service.summaries_for_visits(session, []) == {}

    async def test_amended_form_shows_amended_status(self, client, session):
        nurse = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        await submit_nursing(client, nurse, visit.id)
        resp = await client.put(f"/api/v1/visits/{visit.id}/nursing-assessment",
                                headers=nurse, json=nursing_body(
                                    version=1, vital_signs=NORMAL_VITALS))
        assert resp.status_code == 200
        [summary] = (await forms_service.summaries_for_visits(session, [visit.id]))[visit.id]
        assert (summary.status, summary.version) == ("amended", 2)
