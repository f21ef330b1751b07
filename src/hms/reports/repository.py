"""Every SQL statement on the ``report_jobs`` table."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from hms.db.base import utcnow
from hms.reports.models import ReportJob


class ReportJobRepository:
    """Export jobs: create, read, and the status moves queued -> running -> done."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, job: ReportJob) -> ReportJob:
        """Insert a job and flush (the id and defaults are set)."""
        self.session.add(job)
        await self.session.flush()
        return job

    async def get(self, job_id: uuid.UUID) -> ReportJob | None:
        """The job with ``job_id``, or None."""
        return await self.session.get(ReportJob, job_id)

    async def claim(self, job_id: uuid.UUID) -> bool:
        """Atomically move a queued job to running; False when it is not queued (already
        taken by another worker, finished, or missing)."""
        result = await self.session.execute(
            update(ReportJob)
            .where(ReportJob.id == job_id, ReportJob.status == "queued")
            .values(status="running", started_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def finish(self, job_id: uuid.UUID, **values: Any) -> None:
        """Set the final status and its columns (``finished_at`` is now)."""
        await self.session.execute(
            update(ReportJob)
            .where(ReportJob.id == job_id)
            .values(finished_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
