"""Every SQL statement on the ``report_jobs`` and ``reports`` tables."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hms.db.base import utcnow
from hms.reports.models import Report, ReportJob


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


class ReportRepository:
    """Seed 004 reports: create, read, list, the status moves, update, delete."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, report: Report) -> Report:
        """Insert a report and flush (the id and defaults are set)."""
        self.session.add(report)
        await self.session.flush()
        return report

    async def get(self, report_id: uuid.UUID) -> Report | None:
        """The report with ``report_id``, or None."""
        return await self.session.get(Report, report_id)

    async def list(self, *, generated_by: uuid.UUID | None, report_type: str | None,
                   status: str | None, date_from: date | None, date_to: date | None,
                   q: str | None, order: list[tuple[str, bool]], offset: int, limit: int
                   ) -> tuple[list[Report], int]:
        """A page of reports and the total matching the filters. ``date_from``/``date_to``
        bound the creation day (inclusive, UTC); ``q`` matches the name
        (case-insensitive)."""
        clauses: list[Any] = []
        if generated_by is not None:
            clauses.append(Report.generated_by_user_id == generated_by)
        if report_type is not None:
            clauses.append(Report.report_type == report_type)
        if status is not None:
            clauses.append(Report.status == status)
        if date_from is not None:
            clauses.append(Report.created_at >= datetime.combine(date_from, time.min, UTC))
        if date_to is not None:
            clauses.append(Report.created_at < datetime.combine(
                date_to + timedelta(days=1), time.min, UTC))
        if q:
            escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(func.lower(Report.report_name).like(
                f"%{escaped.lower()}%", escape="\\"))
        total = int(await self.session.scalar(
            select(func.count()).select_from(Report).where(*clauses)) or 0)
        stmt = select(Report).where(*clauses)
        for key, descending in order:
            column = getattr(Report, key)
            stmt = stmt.order_by(column.desc() if descending else column.asc())
        stmt = stmt.order_by(Report.id).offset(offset).limit(limit)
        return list((await self.session.scalars(stmt)).all()), total

    async def claim(self, report_id: uuid.UUID) -> bool:
        """Atomically mark a generating report as started; False when it is not
        generating or another worker started it already."""
        result = await self.session.execute(
            update(Report)
            .where(Report.id == report_id, Report.status == "generating",
                   Report.started_at.is_(None))
            .values(started_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def finish(self, report_id: uuid.UUID, **values: Any) -> None:
        """Set the final status and its columns (``updated_at`` is now)."""
        await self.session.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )

    async def delete(self, report: Report) -> None:
        """Delete the row (reports are not clinical records)."""
        await self.session.delete(report)
        await self.session.flush()
