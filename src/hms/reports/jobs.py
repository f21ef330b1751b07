"""Running export jobs: the runner, where its sessions come from, and how a job is started.

A job runs outside the request that queued it, with its own sessions:

* In-process (no ``HMS_BROKER_URL``): the export route adds :func:`run_report_job` as a
  response background task, so it starts after the request's transaction has committed and
  the 202 has been sent. Its sessions come from :func:`job_sessions`, i.e.
  ``app.state.report_job_sessions`` when set, else ``unit_of_work(app.state.db)``. Tests set
  ``app.state.report_job_sessions`` to a factory bound to their rolled-back connection, so
  a job sees the test's data.
* Celery (``HMS_BROKER_URL`` set): the background task only sends
  ``hms.reports.build_export(job_id)`` to the broker, again after the commit, so the worker
  always finds the row. The worker runs the same :func:`run_report_job` with its own
  :class:`~hms.db.session.Database` (see :mod:`hms.reports.celery_app`).

Files go to ``settings.exports_dir`` under a generated name, written atomically.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import structlog
from fastapi import BackgroundTasks, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from hms.config import Settings
from hms.core.errors import HmsError
from hms.db.base import utcnow
from hms.db.session import Database, unit_of_work
from hms.reports import files, generated, render, service
from hms.reports.schemas import (
    ExportFormat,
    HcmsReportType,
    JobStatus,
    ReportFileFormat,
    ReportRange,
    ReportStatus,
    ReportType,
)

log = structlog.get_logger("hms.reports")

#: A callable opening a session that commits on exit (like :func:`unit_of_work`).
SessionScope = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def session_scope(source: Database | SessionScope) -> SessionScope:
    """A session factory from a :class:`Database` or an existing factory."""
    if isinstance(source, Database):
        return lambda: unit_of_work(source)
    return source


def job_sessions(app: FastAPI) -> SessionScope:
    """Where in-process jobs of ``app`` get their sessions: the overridable
    ``app.state.report_job_sessions``, else a unit of work on ``app.state.db``."""
    override = getattr(app.state, "report_job_sessions", None)
    return override if override is not None else session_scope(app.state.db)


def _write_export(exports_dir: Path, content: bytes, fmt: ExportFormat | ReportFileFormat
                  ) -> str:
    """Store ``content`` under a generated name (temp file + rename); returns the name."""
    exports_dir.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}{secrets.token_hex(4)}.{fmt.value}"
    fd, tmp = tempfile.mkstemp(dir=exports_dir, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(tmp, exports_dir / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return name


def _error_message(exc: BaseException) -> str:
    # HmsError details never hold patient data (STYLE.md 5); other exceptions' text might
    # (a driver error can quote a row), so only their type is kept.
    if isinstance(exc, HmsError):
        return exc.detail
    return f"Export failed ({type(exc).__name__})"


async def run_report_job(
    sessions: Database | SessionScope, job_id: uuid.UUID, *, exports_dir: Path
) -> JobStatus | None:
    """Build, store and finish one export job.

    Claims the job (queued -> running, atomically), builds the report in a fresh session,
    renders it in a worker thread, stores the file and marks the job completed; any error
    marks it failed with a message free of patient data.

    Args:
        sessions: the :class:`Database` to open sessions on, or a session factory.
        job_id: the ``report_jobs`` row to run.
        exports_dir: folder of the stored files (``settings.exports_dir``).

    Returns:
        The final status, or None when the job was not queued (another worker has it or it
        already finished), so a duplicate delivery does nothing.

    Raises:
        ReportJobNotFound (404): the row does not exist (yet); the Celery task retries.
    """
    scope = session_scope(sessions)
    async with scope() as session:
        job = await service.claim_job(session, job_id)
    if job is None:
        return None
    log.info("report_job_started", job_id=str(job_id), report_type=job.report_type.value,
             format=job.format.value)
    try:
        rng = ReportRange.model_validate(job.params)
        async with scope() as session:
            report = await service.build_report(session, ReportType(job.report_type), rng)
        content = await asyncio.to_thread(render.render, report, job.format)
        stored_name = await asyncio.to_thread(_write_export, exports_dir, content, job.format)
        async with scope() as session:
            await service.complete_job(
                session, job_id, stored_name=stored_name,
                content_type=service.CONTENT_TYPES[job.format], size_bytes=len(content))
    except Exception as exc:
        log.error("report_job_failed", job_id=str(job_id), error_type=type(exc).__name__)
        async with scope() as session:
            await service.fail_job(session, job_id, _error_message(exc))
        return JobStatus.FAILED
    log.info("report_job_completed", job_id=str(job_id), size_bytes=len(content))
    return JobStatus.COMPLETED


async def _enqueue(broker_url: str, job_id: uuid.UUID, sessions: SessionScope) -> None:
    """Send the job to Celery; when the broker cannot be reached, fail the job so the
    client stops polling."""
    from hms.reports import celery_app

    try:
        await asyncio.to_thread(celery_app.send_build_export, broker_url, job_id)
    except Exception as exc:
        log.error("report_job_enqueue_failed", job_id=str(job_id),
                  error_type=type(exc).__name__)
        async with sessions() as session:
            await service.fail_job(session, job_id, "The report queue is unavailable")


async def _run_in_process(sessions: SessionScope, job_id: uuid.UUID, exports_dir: Path
                          ) -> None:
    """:func:`run_report_job` as a background task: nothing may escape after the response
    has been sent, so an unexpected error (database down) is logged; the job stays queued
    or running and is reported as such."""
    try:
        await run_report_job(sessions, job_id, exports_dir=exports_dir)
    except Exception as exc:
        log.error("report_job_crashed", job_id=str(job_id), error_type=type(exc).__name__)


def start(background: BackgroundTasks, app: FastAPI, job_id: uuid.UUID) -> None:
    """Arrange for a queued job to run once the request has committed.

    Adds a response background task: with a broker it sends the Celery task, otherwise it
    runs :func:`run_report_job` in this process.
    """
    settings: Settings = app.state.settings
    sessions = job_sessions(app)
    if settings.broker_url:
        background.add_task(_enqueue, settings.broker_url, job_id, sessions)
    else:
        background.add_task(_run_in_process, sessions, job_id, settings.exports_dir)


# --- seed 004 report files (the ``reports`` table) -------------------------------------

def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, HmsError):
        return exc.detail
    return f"Report generation failed ({type(exc).__name__})"


def _render_file(doc: render.Document, fmt: ReportFileFormat) -> bytes:
    if fmt is ReportFileFormat.XLSX:
        return render.render_xlsx(doc)
    return render.render_pdf(doc)


async def run_generated_report(sessions: Database | SessionScope, report_id: uuid.UUID, *,
                               exports_dir: Path) -> ReportStatus | None:
    """Build, store and finish one seed 004 report (status ``generating``).

    Claims the report (one worker wins), computes its figures in a fresh session, renders
    the PDF or XLSX in a worker thread, stores it under a generated name in
    ``exports_dir`` and marks it completed with ``generated_at``; any error marks it failed
    with a ``failure_reason`` free of patient data.

    Returns:
        The final status, or None when the report was not waiting (deleted, finished, or
        taken by another worker), so a duplicate delivery does nothing.
    """
    scope = session_scope(sessions)
    async with scope() as session:
        report = await generated.claim_report(session, report_id)
    if report is None:
        return None
    log.info("report_generation_started", report_id=str(report_id),
             report_type=report.report_type, format=report.format)
    try:
        fmt = ReportFileFormat(report.format)
        assert report.start_date is not None and report.end_date is not None
        spec = files.ReportSpec(
            report_type=HcmsReportType(report.report_type), start=report.start_date,
            end=report.end_date, report_name=report.report_name,
            parameters=dict(report.parameters or {}), generated_at=utcnow())
        async with scope() as session:
            doc = await files.build_document(session, spec)
        content = await asyncio.to_thread(_render_file, doc, fmt)
        stored_name = await asyncio.to_thread(_write_export, exports_dir, content, fmt)
        async with scope() as session:
            await generated.complete_report(
                session, report, file_path=stored_name,
                content_type=generated.CONTENT_TYPES[fmt], size_bytes=len(content))
    except Exception as exc:
        log.error("report_generation_failed", report_id=str(report_id),
                  error_type=type(exc).__name__)
        async with scope() as session:
            await generated.fail_report(session, report_id, report.generated_by_user_id,
                                        _failure_reason(exc))
        return ReportStatus.FAILED
    log.info("report_generation_completed", report_id=str(report_id), size_bytes=len(content))
    return ReportStatus.COMPLETED


async def _enqueue_report(broker_url: str, report_id: uuid.UUID, sessions: SessionScope
                          ) -> None:
    """Send the build to Celery; when the broker cannot be reached, fail the report so
    the client stops polling."""
    from hms.reports import celery_app

    try:
        await asyncio.to_thread(celery_app.send_build_report, broker_url, report_id)
    except Exception as exc:
        log.error("report_enqueue_failed", report_id=str(report_id),
                  error_type=type(exc).__name__)
        async with sessions() as session:
            await generated.fail_report(session, report_id, None,
                                        "The report queue is unavailable")


async def _run_report_in_process(sessions: SessionScope, report_id: uuid.UUID,
                                 exports_dir: Path) -> None:
    try:
        await run_generated_report(sessions, report_id, exports_dir=exports_dir)
    except Exception as exc:
        log.error("report_generation_crashed", report_id=str(report_id),
                  error_type=type(exc).__name__)


def start_report(background: BackgroundTasks, app: FastAPI, report_id: uuid.UUID) -> None:
    """Arrange for a generating report to be built once the request has committed: the
    Celery task ``hms.reports.build_report`` with a broker, else in this process."""
    settings: Settings = app.state.settings
    sessions = job_sessions(app)
    if settings.broker_url:
        background.add_task(_enqueue_report, settings.broker_url, report_id, sessions)
    else:
        background.add_task(_run_report_in_process, sessions, report_id,
                            settings.exports_dir)
