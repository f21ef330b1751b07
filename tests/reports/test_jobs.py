"""The export job runner and the period arithmetic, below the HTTP layer."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from hms.core.permissions import Role
from hms.reports import jobs
from hms.reports.errors import ReportJobNotFound
from hms.reports.periods import Period, buckets, sum_into
from hms.reports.schemas import JobStatus
from tests.identity.factories import auth_headers
from tests.reports.factories import queued_job


class TestRunningAJob:
    async def test_a_second_delivery_of_the_same_job_does_nothing(
        self, app: FastAPI, session: AsyncSession, tmp_path: Path
    ) -> None:
        job_id = await queued_job(session)
        sessions = jobs.job_sessions(app)

        first = await jobs.run_report_job(sessions, job_id, exports_dir=tmp_path)
        second = await jobs.run_report_job(sessions, job_id, exports_dir=tmp_path)

        assert first is JobStatus.COMPLETED
        assert second is None
        assert len(list(tmp_path.iterdir())) == 1  # noqa: ASYNC240 (test assertion)

    async def test_a_job_that_does_not_exist_raises_not_found_so_celery_retries(
        self, app: FastAPI, tmp_path: Path
    ) -> None:
        with pytest.raises(ReportJobNotFound):
            await jobs.run_report_job(jobs.job_sessions(app), uuid.uuid4(),
                                      exports_dir=tmp_path)

    async def test_an_unreachable_broker_fails_the_job_instead_of_leaving_it_queued(
        self, client: AsyncClient, session: AsyncSession, app: FastAPI
    ) -> None:
        admin = await auth_headers(client, session, Role.ADMIN)
        # Nothing listens on port 1: the send is refused at once.
        app.state.settings = app.state.settings.model_copy(
            update={"broker_url": "redis://127.0.0.1:1/0"})

        resp = await client.get("/api/v1/reports/export/dashboard", headers=admin)
        job = (await client.get(resp.json()["status_url"], headers=admin)).json()

        assert resp.status_code == 202
        assert job["status"] == "failed"
        assert job["error"] == "The report queue is unavailable"


class TestPeriods:
    def test_months_cover_leap_february_and_the_turn_of_the_year(self) -> None:
        got = [(b.label, b.start, b.end)
               for b in buckets(date(2023, 12, 20), date(2024, 3, 1), Period.MONTH)]

        assert got == [
            ("2023-12", date(2023, 12, 20), date(2023, 12, 31)),
            ("2024-01", date(2024, 1, 1), date(2024, 1, 31)),
            ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
            ("2024-03", date(2024, 3, 1), date(2024, 3, 1)),
        ]

    def test_a_single_day_range_has_one_bucket_of_each_kind(self) -> None:
        for period in Period:
            (only,) = buckets(date(2024, 7, 10), date(2024, 7, 10), period)
            assert (only.start, only.end) == (date(2024, 7, 10), date(2024, 7, 10))

    def test_day_counts_are_summed_into_their_iso_week(self) -> None:
        bkts = buckets(date(2024, 1, 1), date(2024, 1, 21), Period.WEEK)
        per_day = {date(2024, 1, 1): 1, date(2024, 1, 7): 2, date(2024, 1, 8): 4,
                   date(2024, 1, 22): 8}

        assert sum_into(bkts, Period.WEEK, per_day) == [3, 4, 0]
