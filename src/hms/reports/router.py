"""HTTP routes of the reports module (seed 000 paths, admin only: ``report:read``).

The four live reports answer JSON. ``export/{report_type}`` queues a file export and answers
202 with the job's URLs; ``jobs/{job_id}`` is polled and ``jobs/{job_id}/download`` serves
the file once the job has completed.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from fastapi.responses import FileResponse

from hms.config import Settings
from hms.core.auth import DbSession, Principal, require
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES
from hms.reports import jobs, service
from hms.reports.schemas import (
    ClinicalAssessmentsRead,
    DashboardRead,
    ExportFormat,
    PatientStatisticsRead,
    Period,
    ReportJobAccepted,
    ReportJobRead,
    ReportRange,
    ReportTypeParam,
    VisitVolumeRead,
)

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

ReadReports = Annotated[Principal, Depends(require(Perm.REPORT_READ))]

StartQ = Annotated[date | None, Query(description="First day, inclusive (UTC); default "
                                                  "end minus 29 days")]
EndQ = Annotated[date | None, Query(description="Last day, inclusive (UTC); default today")]
PeriodQ = Annotated[Period, Query(description="Grouping of the series: day, week (ISO, "
                                              "Monday first) or month")]


def report_range(start: StartQ = None, end: EndQ = None, period: PeriodQ = Period.DAY
                 ) -> ReportRange:
    """Query parameters ``start``, ``end``, ``period`` as a validated range (422 when
    reversed or too long)."""
    return service.report_range(start, end, period)


def range_only(start: StartQ = None, end: EndQ = None) -> ReportRange:
    """Query parameters ``start`` and ``end`` as a validated range."""
    return service.report_range(start, end)


Range = Annotated[ReportRange, Depends(report_range)]
RangeNoPeriod = Annotated[ReportRange, Depends(range_only)]

_DOWNLOAD_RESPONSES = {
    **PROBLEM_RESPONSES,
    200: {"description": "The export file",
          "content": {ct.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                      for ct in service.CONTENT_TYPES.values()}},
}


@router.get("/dashboard", summary="Headline figures now", response_model=DashboardRead,
            responses=PROBLEM_RESPONSES)
async def dashboard(actor: ReadReports, session: DbSession) -> DashboardRead:
    return await service.dashboard(session)


@router.get("/patients/statistics", summary="Patients by gender and age band, new per period",
            response_model=PatientStatisticsRead, responses=PROBLEM_RESPONSES)
async def patient_statistics(actor: ReadReports, session: DbSession, rng: Range
                             ) -> PatientStatisticsRead:
    return await service.patient_statistics(session, rng)


@router.get("/visits/volume", summary="Visits per period, by status and department",
            response_model=VisitVolumeRead, responses=PROBLEM_RESPONSES)
async def visit_volume(actor: ReadReports, session: DbSession, rng: Range) -> VisitVolumeRead:
    return await service.visit_volume(session, rng)


@router.get("/clinical/assessments",
            summary="Forms filled, fall-risk bands, pain scores, out-of-range vitals",
            response_model=ClinicalAssessmentsRead, responses=PROBLEM_RESPONSES)
async def clinical_assessments(actor: ReadReports, session: DbSession, rng: RangeNoPeriod
                               ) -> ClinicalAssessmentsRead:
    return await service.clinical_assessments(session, rng)


@router.get("/export/{report_type}", summary="Export a report as CSV, XLSX or PDF (job)",
            status_code=202, response_model=ReportJobAccepted, responses=PROBLEM_RESPONSES)
async def export_report(
    report_type: ReportTypeParam,
    actor: ReadReports,
    session: DbSession,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    rng: Range,
    format: Annotated[ExportFormat, Query(description="csv, xlsx or pdf")] = ExportFormat.CSV,
) -> ReportJobAccepted:
    accepted = await service.request_export(session, actor, report_type.canonical, format,
                                            rng)
    jobs.start(background, request.app, accepted.job_id)
    response.headers["Location"] = accepted.status_url
    return accepted


@router.get("/jobs/{job_id}", summary="Poll an export job", response_model=ReportJobRead,
            responses=PROBLEM_RESPONSES)
async def get_job(job_id: uuid.UUID, actor: ReadReports, session: DbSession,
                  response: Response) -> ReportJobRead:
    job = await service.get_job(session, job_id)
    if job.status in ("queued", "running"):
        response.headers["Retry-After"] = "1"
    return job


@router.get("/jobs/{job_id}/download", summary="Download a completed export",
            response_class=FileResponse, responses=_DOWNLOAD_RESPONSES)
async def download_job(job_id: uuid.UUID, actor: ReadReports, session: DbSession,
                       request: Request) -> FileResponse:
    settings: Settings = request.app.state.settings
    export = await service.open_download(session, job_id, settings.exports_dir)
    return FileResponse(
        export.path, media_type=export.content_type, filename=export.filename,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
    )
