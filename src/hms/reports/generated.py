"""Seed 004 report files: request, build in the background, read, list, download, rename,
delete (HCMS 10 "Report Generation Workflow").

A request inserts a ``reports`` row with status ``generating`` (audited); the caller starts
the build after the commit (:func:`hms.reports.jobs.start_report`). The build
(:func:`hms.reports.jobs.run_generated_report`) computes the figures, renders the PDF or
XLSX, stores it under a generated name in ``settings.exports_dir`` and marks the report
``completed`` with ``generated_at``, or ``failed`` with a ``failure_reason`` free of patient
data.

Access (HCMS 11): ``report:generate`` covers every type and every report;
``report:generate_billing`` (billing officer) covers the revenue and billing_summary types
and only the reports the caller generated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.core.auth import Principal
from hms.core.errors import Forbidden, ValidationFailed
from hms.core.pagination import Page, PageParams
from hms.core.permissions import Perm
from hms.db.base import utcnow
from hms.reports.errors import (
    InvalidDateRange,
    ReportFileMissing,
    ReportNotCompleted,
    ReportNotFound,
    ReportTypeNotAllowed,
)
from hms.reports.files import TITLES
from hms.reports.models import Report
from hms.reports.repository import ReportRepository
from hms.reports.schemas import (
    BILLING_REPORT_TYPES,
    HcmsReportType,
    ReportFileFormat,
    ReportGenerate,
    ReportRead,
    ReportStatus,
    ReportUpdate,
)

REPORTS_PATH = "/api/v1/reports"
#: Default length of a report's range, in days, ending today (UTC).
DEFAULT_RANGE_DAYS = 30
#: Longest range of a report file (days): ten years.
MAX_RANGE_DAYS = 3660
#: Dates outside this window are refused (typos; they would overflow date arithmetic).
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)

CONTENT_TYPES: dict[ReportFileFormat, str] = {
    ReportFileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFileFormat.PDF: "application/pdf",
}


def _sees_all(actor: Principal) -> bool:
    return actor.can(Perm.REPORT_GENERATE)


def check_can_use_reports(actor: Principal) -> None:
    """The caller holds ``report:generate`` or ``report:generate_billing``.

    Raises:
        Forbidden (403): neither.
    """
    if not (actor.can(Perm.REPORT_GENERATE) or actor.can(Perm.REPORT_GENERATE_BILLING)):
        raise Forbidden(f"Role '{actor.role}' lacks permission '{Perm.REPORT_GENERATE}'")


def _check_type_allowed(actor: Principal, report_type: HcmsReportType) -> None:
    if _sees_all(actor):
        return
    if actor.can(Perm.REPORT_GENERATE_BILLING) and report_type in BILLING_REPORT_TYPES:
        return
    allowed = ", ".join(sorted(t.value for t in BILLING_REPORT_TYPES))
    raise ReportTypeNotAllowed(
        f"Your role may generate only the billing reports ({allowed}); "
        f"'{report_type.value}' is not one of them (seed 004 11)")


def resolve_range(start: date | None, end: date | None, *, today: date) -> tuple[date, date]:
    """The report's inclusive day range, defaults filled in.

    Args:
        start: first day; default ``end`` minus 29 days.
        end: last day; default today (UTC), or ``start`` when that is later.

    Raises:
        ValidationFailed (422): a date before 1900 or after 2199, or a range longer than
            ten years.
        InvalidDateRange (422, ``invalid_date_range``): ``start`` after ``end`` (seed 004 12
            "start_date must be before or equal to end_date").
    """
    errors = [{"field": field, "in": "body", "type": "date_out_of_range",
               "message": f"must be between {EARLIEST} and {LATEST}"}
              for field, value in (("start_date", start), ("end_date", end))
              if value is not None and not EARLIEST <= value <= LATEST]
    if errors:
        raise ValidationFailed("Report dates out of range", errors=errors)
    if start is not None and end is not None and start > end:
        raise InvalidDateRange(
            "start_date must be before or equal to end_date (seed 004 12)",
            errors=[{"field": "start_date", "in": "body", "type": "invalid_date_range",
                     "message": "must be on or before end_date"}])
    if end is None:
        end = max(today, start) if start is not None else today
    if start is None:
        start = end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    days = (end - start).days + 1
    if days > MAX_RANGE_DAYS:
        raise ValidationFailed("The report range is too long", errors=[
            {"field": "end_date", "in": "body", "type": "range_too_long",
             "message": f"a report may cover at most {MAX_RANGE_DAYS} days; this one "
                        f"covers {days}"}])
    return start, end


def _download_url(report_id: uuid.UUID) -> str:
    return f"{REPORTS_PATH}/{report_id}/download"


def to_read(report: Report) -> ReportRead:
    """The API shape of a report row."""
    return ReportRead(
        id=report.id, report_name=report.report_name,
        report_type=HcmsReportType(report.report_type),
        generated_by_user_id=report.generated_by_user_id, start_date=report.start_date,
        end_date=report.end_date, parameters=report.parameters or {},
        format=ReportFileFormat(report.format), status=ReportStatus(report.status),
        file_path=report.file_path, content_type=report.content_type,
        size_bytes=report.size_bytes, failure_reason=report.failure_reason,
        generated_at=report.generated_at, created_at=report.created_at,
        updated_at=report.updated_at, download_url=_download_url(report.id),
    )


def _snapshot(report: Report) -> dict[str, Any]:
    return {"report_name": report.report_name, "report_type": report.report_type,
            "start_date": report.start_date, "end_date": report.end_date,
            "parameters": report.parameters, "format": report.format,
            "status": report.status}


async def request_report(session: AsyncSession, actor: Principal, body: ReportGenerate
                         ) -> ReportRead:
    """Record a report request with status ``generating`` (seed 004 10 steps 1-3).

    The caller starts the build once the transaction has committed.

    Raises:
        ReportTypeNotAllowed (403): a billing-only role asked for a non-billing type.
        InvalidDateRange (422): start_date after end_date.
        ValidationFailed (422): dates out of 1900-2199 or a range over ten years.
    """
    _check_type_allowed(actor, body.report_type)
    start, end = resolve_range(body.start_date, body.end_date, today=utcnow().date())
    name = body.report_name or f"{TITLES[body.report_type]} {start} to {end}"
    report = await ReportRepository(session).add(Report(
        report_name=name, report_type=body.report_type.value,
        generated_by_user_id=actor.user_id, start_date=start, end_date=end,
        parameters=body.parameters or {}, format=body.format.value,
        status=ReportStatus.GENERATING.value,
    ))
    await audit.record(session, AuditAction.CREATE, "report", report.id,
                       changes={"after": _snapshot(report)})
    return to_read(report)


async def _visible(session: AsyncSession, actor: Principal, report_id: uuid.UUID) -> Report:
    report = await ReportRepository(session).get(report_id)
    if report is None or (not _sees_all(actor)
                          and report.generated_by_user_id != actor.user_id):
        raise ReportNotFound("Report not found")
    return report


async def get_report(session: AsyncSession, actor: Principal, report_id: uuid.UUID
                     ) -> ReportRead:
    """One report.

    Raises:
        ReportNotFound (404): no such report, or a billing officer's view of another
            user's report.
    """
    return to_read(await _visible(session, actor, report_id))


async def list_reports(session: AsyncSession, actor: Principal, page: PageParams, *,
                       report_type: HcmsReportType | None, status: ReportStatus | None,
                       date_from: date | None, date_to: date | None, q: str | None,
                       order: list[tuple[str, bool]]) -> Page[ReportRead]:
    """A page of reports, newest first by default. A caller without ``report:generate``
    (billing officer) sees only the reports they generated.

    Raises:
        InvalidDateRange (422): ``date_from`` after ``date_to``.
    """
    if date_from is not None and date_to is not None and date_from > date_to:
        raise InvalidDateRange("date_from must be before or equal to date_to", errors=[
            {"field": "date_from", "in": "query", "type": "invalid_date_range",
             "message": "must be on or before date_to"}])
    rows, total = await ReportRepository(session).list(
        generated_by=None if _sees_all(actor) else actor.user_id,
        report_type=report_type.value if report_type else None,
        status=status.value if status else None, date_from=date_from, date_to=date_to,
        q=q, order=order, offset=page.offset, limit=page.page_size)
    return Page(items=[to_read(r) for r in rows], total=total, page=page.page,
                page_size=page.page_size)


async def update_report(session: AsyncSession, actor: Principal, report_id: uuid.UUID,
                        body: ReportUpdate) -> ReportRead:
    """Rename a report or replace its stored parameters (the file is not rebuilt);
    audited with old and new values.

    Raises:
        ReportNotFound (404): as :func:`get_report`.
    """
    repo = ReportRepository(session)
    report = await _visible(session, actor, report_id)
    before = _snapshot(report)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    for key, value in changes.items():
        setattr(report, key, value)
    if changes:
        report.updated_at = utcnow()
        await session.flush()
        await audit.record(session, AuditAction.UPDATE, "report", report.id,
                           changes=audit.diff(before, _snapshot(report)))
    refreshed = await repo.get(report.id)
    assert refreshed is not None
    return to_read(refreshed)


async def delete_report(session: AsyncSession, actor: Principal, report_id: uuid.UUID
                        ) -> str | None:
    """Delete a report row (reports are not clinical records: seed 004 14.7 "soft delete"
    applies to clinical data); audited. A report still generating is deleted too: its
    build finds no row and stops.

    Returns:
        The stored file's name, for the caller to remove once the deletion has committed
        (:func:`remove_file`), or None.

    Raises:
        ReportNotFound (404): as :func:`get_report`.
    """
    report = await _visible(session, actor, report_id)
    snapshot = _snapshot(report)
    file_name = report.file_path
    await ReportRepository(session).delete(report)
    await audit.record(session, AuditAction.DELETE, "report", report_id,
                       changes={"before": audit.diff({}, snapshot)["after"]})
    return file_name


def remove_file(exports_dir: Path, file_name: str) -> None:
    """Remove a deleted report's stored file (after the commit; a missing file is fine)."""
    (exports_dir / file_name).unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class ReportFile:
    """A completed report's stored file, ready to send."""

    path: Path
    filename: str
    content_type: str


def download_name(report: Report) -> str:
    """File name offered to the browser, e.g.
    ``hms-revenue-2026-01-01_2026-01-31.xlsx``."""
    return f"hms-{report.report_type}-{report.start_date}_{report.end_date}.{report.format}"


async def open_download(session: AsyncSession, actor: Principal, report_id: uuid.UUID,
                        exports_dir: Path) -> ReportFile:
    """The file of a completed report, audited as a download (seed 004 10 step 7).

    Raises:
        ReportNotFound (404): as :func:`get_report`.
        ReportNotCompleted (409, ``report_not_completed``): still generating or failed.
        ReportFileMissing (404): completed but the file is no longer stored.
    """
    report = await _visible(session, actor, report_id)
    if report.status != ReportStatus.COMPLETED.value or not report.file_path:
        reason = f" ({report.failure_reason})" if report.failure_reason else ""
        raise ReportNotCompleted(
            f"The report is {report.status}{reason}; only completed reports can be "
            "downloaded")
    path = exports_dir / report.file_path
    if not path.is_file():
        raise ReportFileMissing("The report file is no longer stored")
    await audit.record(session, AuditAction.DOWNLOAD, "report", report.id)
    fmt = ReportFileFormat(report.format)
    return ReportFile(path=path, filename=download_name(report),
                      content_type=report.content_type or CONTENT_TYPES[fmt])


# --- used by the background build ------------------------------------------------------

async def claim_report(session: AsyncSession, report_id: uuid.UUID) -> Report | None:
    """Mark a generating report as started (one worker wins) and return it; None when it
    is gone (deleted), finished, or started by another worker."""
    repo = ReportRepository(session)
    if not await repo.claim(report_id):
        return None
    report = await repo.get(report_id)
    if report is not None:
        await session.refresh(report)
    return report


async def complete_report(session: AsyncSession, report: Report, *, file_path: str,
                          content_type: str, size_bytes: int) -> None:
    """Mark a report completed with its stored file; audited as the generation
    (seed 004 10 step 8), by the user who asked for it."""
    now = utcnow()
    await ReportRepository(session).finish(
        report.id, status=ReportStatus.COMPLETED.value, file_path=file_path,
        content_type=content_type, size_bytes=size_bytes, generated_at=now,
        failure_reason=None)
    await audit.record(session, AuditAction.EXPORT, "report", report.id,
                       user_id=report.generated_by_user_id,
                       changes={"after": {"status": ReportStatus.COMPLETED.value,
                                          "size_bytes": size_bytes}})


async def fail_report(session: AsyncSession, report_id: uuid.UUID,
                      generated_by: uuid.UUID | None, reason: str) -> None:
    """Mark a report failed with ``reason`` (which must hold no patient data)."""
    await ReportRepository(session).finish(
        report_id, status=ReportStatus.FAILED.value, failure_reason=reason[:1000])
    await audit.record(session, AuditAction.STATUS_CHANGE, "report", report_id,
                       user_id=generated_by,
                       changes={"after": {"status": ReportStatus.FAILED.value,
                                          "failure_reason": reason[:1000]}})
