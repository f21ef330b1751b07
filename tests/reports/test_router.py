"""The live JSON reports: exact figures on seeded data, period grouping, validation, access."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.core.permissions import Role
from tests.documents.factories import make_pdf, upload
from tests.forms.factories import LOW_RISK_FALL, NORMAL_VITALS, radiology_body, submit_nursing
from tests.identity.factories import auth_headers
from tests.reports.factories import (
    at,
    now_minus,
    registered_patient,
    set_visit_status,
    utc_today,
    visit_on,
)

REPORTS = "/api/v1/reports"
JSON_ROUTES = [
    f"{REPORTS}/dashboard",
    f"{REPORTS}/patients/statistics",
    f"{REPORTS}/visits/volume",
    f"{REPORTS}/clinical/assessments",
]


@pytest.fixture
async def admin(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    return await auth_headers(client, session, Role.ADMIN)


class TestPatientStatistics:
    async def test_counts_genders_age_bands_and_new_patients_per_month(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        # Ages are taken at the range's last day, 2024-03-31.
        await registered_patient(session, registered_at=at(date(2024, 1, 10)),
                                 gender="male", date_of_birth=date(2010, 5, 1))      # 13
        await registered_patient(session, registered_at=at(date(2024, 1, 31), 23, 59),
                                 gender="female", date_of_birth=date(2006, 3, 31))   # 18 today
        await registered_patient(session, registered_at=at(date(2024, 2, 15)),
                                 gender="female", date_of_birth=date(2006, 4, 1))    # 17
        await registered_patient(session, registered_at=at(date(2024, 2, 29)),
                                 gender=None, date_of_birth=None)                    # unknown
        await registered_patient(session, registered_at=at(date(2024, 2, 1)),
                                 gender="other", date_of_birth=date(1970, 1, 1))     # 54
        await registered_patient(session, registered_at=at(date(2024, 3, 31), 23, 59),
                                 gender="male", date_of_birth=date(1959, 3, 31))     # 65
        # Registered before the range: in the population, not new.
        await registered_patient(session, registered_at=at(date(2023, 12, 31), 23, 59),
                                 gender="male", date_of_birth=date(1980, 6, 15))     # 43
        # After the range, and a deactivated record: counted nowhere.
        await registered_patient(session, registered_at=at(date(2024, 4, 1), 0, 0),
                                 gender="female", date_of_birth=date(1990, 1, 1))
        await registered_patient(session, registered_at=at(date(2024, 2, 2)),
                                 gender="male", date_of_birth=date(1990, 1, 1), active=False)

        resp = await client.get(f"{REPORTS}/patients/statistics", headers=admin,
                                params={"start": "2024-01-01", "end": "2024-03-31",
                                        "period": "month"})

        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["range"] == {"start": "2024-01-01", "end": "2024-03-31",
                                 "period": "month"}
        assert body["as_of"] == "2024-03-31"
        assert body["total_patients"] == 7
        assert body["new_patients"] == 6
        assert body["by_gender"] == {"male": 3, "female": 2, "other": 1, "unknown": 1}
        assert body["by_age_band"] == {"0-17": 2, "18-34": 1, "35-49": 1, "50-64": 1,
                                       "65+": 1, "unknown": 1}
        assert body["new_patients_per_period"] == [
            {"period": "2024-01", "start": "2024-01-01", "end": "2024-01-31", "count": 2},
            {"period": "2024-02", "start": "2024-02-01", "end": "2024-02-29", "count": 3},
            {"period": "2024-03", "start": "2024-03-01", "end": "2024-03-31", "count": 1},
        ]

    async def test_iso_weeks_start_on_monday_and_are_clipped_to_the_range(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        # 2024-01-03 is a Wednesday; 2024-01-07 a Sunday; 2024-01-08 a Monday.
        await registered_patient(session, registered_at=at(date(2024, 1, 2)))  # before start
        await registered_patient(session, registered_at=at(date(2024, 1, 3), 0, 0))
        await registered_patient(session, registered_at=at(date(2024, 1, 7), 23, 59))
        await registered_patient(session, registered_at=at(date(2024, 1, 8), 0, 0))
        await registered_patient(session, registered_at=at(date(2024, 1, 16), 23, 59))

        resp = await client.get(f"{REPORTS}/patients/statistics", headers=admin,
                                params={"start": "2024-01-03", "end": "2024-01-16",
                                        "period": "week"})

        assert resp.status_code == 200, resp.text
        assert resp.json()["new_patients_per_period"] == [
            {"period": "2024-W01", "start": "2024-01-03", "end": "2024-01-07", "count": 2},
            {"period": "2024-W02", "start": "2024-01-08", "end": "2024-01-14", "count": 1},
            {"period": "2024-W03", "start": "2024-01-15", "end": "2024-01-16", "count": 1},
        ]
        assert resp.json()["new_patients"] == 4

    async def test_iso_week_labels_follow_the_iso_year_across_new_year(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        await registered_patient(session, registered_at=at(date(2024, 12, 30)))  # 2025-W01

        resp = await client.get(f"{REPORTS}/patients/statistics", headers=admin,
                                params={"start": "2024-12-28", "end": "2025-01-05",
                                        "period": "week"})

        assert resp.json()["new_patients_per_period"] == [
            {"period": "2024-W52", "start": "2024-12-28", "end": "2024-12-29", "count": 0},
            {"period": "2025-W01", "start": "2024-12-30", "end": "2025-01-05", "count": 1},
        ]

    async def test_days_without_registrations_are_listed_with_zero(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        await registered_patient(session, registered_at=at(date(2024, 5, 2), 0, 0))
        await registered_patient(session, registered_at=at(date(2024, 5, 2), 23, 59))

        resp = await client.get(f"{REPORTS}/patients/statistics", headers=admin,
                                params={"start": "2024-05-01", "end": "2024-05-03"})

        assert [(p["period"], p["count"]) for p in resp.json()["new_patients_per_period"]] \
            == [("2024-05-01", 0), ("2024-05-02", 2), ("2024-05-03", 0)]

    async def test_default_range_is_the_last_30_days_by_day(
        self, client: AsyncClient, admin: dict[str, str]
    ) -> None:
        resp = await client.get(f"{REPORTS}/patients/statistics", headers=admin)

        today = utc_today()
        body = resp.json()
        assert body["range"] == {"start": (today - timedelta(days=29)).isoformat(),
                                 "end": today.isoformat(), "period": "day"}
        assert len(body["new_patients_per_period"]) == 30


class TestVisitVolume:
    async def test_counts_visits_per_day_by_status_and_department(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        d1, d3 = date(2024, 6, 3), date(2024, 6, 5)
        await visit_on(session, at(d1, 0, 0), status="closed", department="Radiology")
        await visit_on(session, at(d1, 9), status="cancelled", department="Radiology")
        await visit_on(session, at(d1, 23, 59), status="open", department=None)
        await visit_on(session, at(d3, 8), status="in_progress", department="Emergency")
        await visit_on(session, at(d3, 9), status="open", department="Radiology")
        await visit_on(session, at(date(2024, 6, 2), 23, 59), department="Emergency")  # before
        await visit_on(session, at(date(2024, 6, 6), 0, 0), department="Emergency")    # after

        resp = await client.get(f"{REPORTS}/visits/volume", headers=admin,
                                params={"start": d1.isoformat(), "end": d3.isoformat(),
                                        "period": "day"})

        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["total_visits"] == 5
        assert body["by_status"] == {"open": 2, "in_progress": 1, "closed": 1, "cancelled": 1}
        assert body["by_department"] == {"Radiology": 3, "Emergency": 1, "unassigned": 1}
        assert list(body["by_department"]) == ["Radiology", "Emergency", "unassigned"]
        zero = {"open": 0, "in_progress": 0, "closed": 0, "cancelled": 0}
        assert body["visits_per_period"] == [
            {"period": "2024-06-03", "start": "2024-06-03", "end": "2024-06-03", "count": 3,
             "by_status": {**zero, "open": 1, "closed": 1, "cancelled": 1}},
            {"period": "2024-06-04", "start": "2024-06-04", "end": "2024-06-04", "count": 0,
             "by_status": zero},
            {"period": "2024-06-05", "start": "2024-06-05", "end": "2024-06-05", "count": 2,
             "by_status": {**zero, "open": 1, "in_progress": 1}},
        ]

    async def test_groups_visits_by_month(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        await visit_on(session, at(date(2023, 12, 31), 23, 59))
        await visit_on(session, at(date(2024, 1, 1), 0, 0))
        await visit_on(session, at(date(2024, 1, 31), 23, 59))
        await visit_on(session, at(date(2024, 2, 29)))
        await visit_on(session, at(date(2024, 3, 1), 0, 0))

        resp = await client.get(f"{REPORTS}/visits/volume", headers=admin,
                                params={"start": "2023-12-15", "end": "2024-02-29",
                                        "period": "month"})

        assert [(p["period"], p["start"], p["end"], p["count"])
                for p in resp.json()["visits_per_period"]] == [
            ("2023-12", "2023-12-15", "2023-12-31", 1),
            ("2024-01", "2024-01-01", "2024-01-31", 2),
            ("2024-02", "2024-02-01", "2024-02-29", 1),
        ]


class TestClinicalAssessments:
    async def test_counts_forms_fall_risk_bands_pain_scores_and_out_of_range_vitals(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        nurse = await auth_headers(client, session, Role.NURSE)
        physician = await auth_headers(client, session, Role.PHYSICIAN)
        first = await visit_on(session, now_minus(hours=1))
        second = await visit_on(session, now_minus(hours=1))
        third = await visit_on(session, now_minus(hours=1))
        # Morse 100 (high), pain 4, normal vitals.
        await submit_nursing(client, nurse, first.id)
        # Morse 0 (low), pain 7, pulse 120 and SpO2 91 out of range.
        await submit_nursing(client, nurse, second.id, fall_risk_assessment=LOW_RISK_FALL,
                             pain_assessment={"pain_score": 7, "site": "knee"},
                             vital_signs={**NORMAL_VITALS, "pulse_bpm": 120,
                                          "oxygen_saturation_percent": 91.0})
        resp = await client.post(f"/api/v1/visits/{third.id}/radiology-assessment",
                                 headers=physician, json=radiology_body())
        assert resp.status_code == 201, resp.text

        resp = await client.get(f"{REPORTS}/clinical/assessments", headers=admin)

        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["forms_total"] == 3
        assert body["forms"] == {
            "SH.MR.FRM.05": {"draft": 0, "completed": 2, "amended": 0},
            "SH.MR.FRM.04": {"draft": 0, "completed": 1, "amended": 0},
        }
        assert body["fall_risk_bands"] == {"low": 1, "moderate": 0, "high": 1}
        assert body["pain_scores"] == {**{str(s): 0 for s in range(11)}, "4": 1, "7": 1}
        vitals = body["out_of_range_vitals"]
        assert vitals["pulse_high"] == 1
        assert vitals["oxygen_saturation_low"] == 1
        assert vitals["total"] == 2
        assert vitals["sets_with_any"] == 1
        assert vitals["sets_recorded"] == 2

    async def test_forms_outside_the_range_are_not_counted(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        nurse = await auth_headers(client, session, Role.NURSE)
        visit = await visit_on(session, now_minus(hours=1))
        await submit_nursing(client, nurse, visit.id)
        yesterday = utc_today() - timedelta(days=1)

        resp = await client.get(f"{REPORTS}/clinical/assessments", headers=admin,
                                params={"start": (yesterday - timedelta(days=6)).isoformat(),
                                        "end": yesterday.isoformat()})

        body = resp.json()
        assert body["forms_total"] == 0
        assert body["fall_risk_bands"] == {"low": 0, "moderate": 0, "high": 0}


class TestDashboard:
    async def test_headline_figures_count_today_and_now(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        nurse = await auth_headers(client, session, Role.NURSE)
        today = utc_today()
        # Patients: 2 today, 1 three days ago, 1 ten days ago, 1 forty days ago.
        p1 = await registered_patient(session)
        await registered_patient(session)
        await registered_patient(session, registered_at=at(today - timedelta(days=3)))
        await registered_patient(session, registered_at=at(today - timedelta(days=10)))
        await registered_patient(session, registered_at=at(today - timedelta(days=40)))
        # Visits: two open today (one high fall risk), one in progress since 2 days, one
        # started yesterday and closed today, one closed yesterday, a high-risk one closed.
        high = await visit_on(session, now_minus(), patient_id=p1.id)
        await visit_on(session, now_minus(), patient_id=p1.id)
        await visit_on(session, at(today - timedelta(days=2)), status="in_progress",
                       patient_id=p1.id)
        await visit_on(session, at(today - timedelta(days=1)), status="closed",
                       ended_at=at(today, 0, 1), patient_id=p1.id)
        await visit_on(session, at(today - timedelta(days=1), 1), status="closed",
                       ended_at=at(today - timedelta(days=1), 2), patient_id=p1.id)
        closed_high = await visit_on(session, now_minus(), patient_id=p1.id)
        await submit_nursing(client, nurse, high.id,
                             vital_signs={**NORMAL_VITALS, "temperature_celsius": 38.6})
        await submit_nursing(client, nurse, closed_high.id)
        await set_visit_status(session, closed_high.id, "closed")
        resp = await upload(client, high.id, nurse, make_pdf())
        assert resp.status_code == 201, resp.text

        resp = await client.get(f"{REPORTS}/dashboard", headers=admin)

        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["as_of"] == today.isoformat()
        assert body["patients"] == {"total": 5, "new_today": 2, "new_last_7_days": 3,
                                    "new_last_30_days": 4}
        assert body["visits"] == {"active_now": 3, "open_now": 2, "in_progress_now": 1,
                                  "started_today": 3, "closed_today": 2,
                                  "started_last_7_days": 6}
        assert body["clinical"] == {
            "forms_filled_today": 2,
            "forms_filled_today_by_code": {"SH.MR.FRM.05": 2, "SH.MR.FRM.04": 0},
            "high_fall_risk_active_visits": 1,
            "out_of_range_vitals_today": 1,
        }
        assert body["documents"] == {"uploaded_today": 1, "uploaded_last_7_days": 1}

    async def test_empty_archive_gives_zeros(
        self, client: AsyncClient, admin: dict[str, str]
    ) -> None:
        resp = await client.get(f"{REPORTS}/dashboard", headers=admin)

        body = resp.json()
        assert body["patients"]["total"] == 0
        assert body["visits"]["active_now"] == 0
        assert body["clinical"]["forms_filled_today"] == 0
        assert body["documents"]["uploaded_today"] == 0


class TestDashboardSnapshot:
    """With ``dashboard_max_age_seconds`` set (30 s in production), each process reuses its
    last computation until it is that old; every call is still audited."""

    @pytest.fixture
    def snapshots(self, settings):
        from hms.config import get_settings
        from hms.reports import service

        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HMS_DASHBOARD_MAX_AGE_SECONDS", "60")
            get_settings.cache_clear()
            service._snapshots.clear()
            yield service._snapshots
            service._snapshots.clear()
        get_settings.cache_clear()

    async def test_reuses_figures_until_they_are_too_old(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str], snapshots
    ) -> None:
        await registered_patient(session)
        first = (await client.get(f"{REPORTS}/dashboard", headers=admin)).json()
        await registered_patient(session)
        second = (await client.get(f"{REPORTS}/dashboard", headers=admin)).json()
        assert second == first and first["patients"]["total"] == 1

        for snapshot in snapshots.values():  # 61 s later
            snapshot.monotonic -= 61
        third = (await client.get(f"{REPORTS}/dashboard", headers=admin)).json()
        assert third["patients"]["total"] == 2
        assert third["generated_at"] > first["generated_at"]
        reads = await audit.list_events(session, action="read", entity_type="report")
        assert len([e for e in reads if e.entity_id == "dashboard"]) == 3


class TestReportReadsAreAudited:
    @pytest.mark.parametrize("path", JSON_ROUTES)
    async def test_each_report_read_leaves_an_audit_row(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str], path: str
    ) -> None:
        resp = await client.get(path, headers=admin)

        assert resp.status_code == 200, resp.text
        assert await audit.count_events(session, entity_type="report", action="read") == 1


class TestValidation:
    @pytest.mark.parametrize("path", JSON_ROUTES[1:])
    async def test_end_before_start_is_refused_naming_end(
        self, client: AsyncClient, admin: dict[str, str], path: str
    ) -> None:
        resp = await client.get(path, headers=admin,
                                params={"start": "2024-03-02", "end": "2024-03-01"})

        assert resp.status_code == 422
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in resp.json()["errors"]] == ["end"]

    async def test_more_than_three_years_by_day_is_refused(
        self, client: AsyncClient, admin: dict[str, str]
    ) -> None:
        resp = await client.get(f"{REPORTS}/visits/volume", headers=admin,
                                params={"start": "2020-01-01", "end": "2023-12-31"})

        assert resp.status_code == 422
        assert resp.json()["errors"][0]["field"] == "period"

    async def test_the_same_range_by_month_is_accepted(
        self, client: AsyncClient, admin: dict[str, str]
    ) -> None:
        resp = await client.get(f"{REPORTS}/visits/volume", headers=admin,
                                params={"start": "2020-01-01", "end": "2023-12-31",
                                        "period": "month"})

        assert resp.status_code == 200
        assert len(resp.json()["visits_per_period"]) == 48

    @pytest.mark.parametrize("params", [
        {"period": "year"},
        {"start": "2024-02-30"},
        {"end": "yesterday"},
        {"start": "1800-01-01", "end": "1800-01-02"},
        {"start": "9999-12-31"},
    ])
    async def test_bad_parameters_are_422_problems(
        self, client: AsyncClient, admin: dict[str, str], params: dict[str, str]
    ) -> None:
        resp = await client.get(f"{REPORTS}/patients/statistics", headers=admin,
                                params=params)

        assert resp.status_code == 422
        assert resp.json()["errors"]


class TestAccess:
    @pytest.mark.parametrize("role", [Role.NURSE, Role.PHYSICIAN])
    @pytest.mark.parametrize("path", [*JSON_ROUTES, f"{REPORTS}/export/dashboard"])
    async def test_clinical_roles_are_forbidden(
        self, client: AsyncClient, session: AsyncSession, role: Role, path: str
    ) -> None:
        headers = await auth_headers(client, session, role)

        resp = await client.get(path, headers=headers)

        assert resp.status_code == 403
        assert resp.json()["code"] == "forbidden"

    @pytest.mark.parametrize("path", [*JSON_ROUTES, f"{REPORTS}/export/dashboard"])
    async def test_anonymous_callers_get_401(self, client: AsyncClient, path: str) -> None:
        resp = await client.get(path)

        assert resp.status_code == 401
