"""HTTP routes of the reports module.

Seed 000 paths (admin only: ``report:read``): the live JSON reports and export jobs below.
Seed 004 paths (``report:generate``, or ``report:generate_billing`` for the billing types):
``/reports`` and ``/reports/generate`` request a report file (202, built in the
background), then list, read, download, rename and delete it. The seed 000 routes are
declared first, so ``/reports/dashboard`` is never taken for a report id.

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
from hms.core.auth import CurrentPrincipal, DbSession, Principal, require
from hms.core.pagination import Page, Pagination
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES
from hms.core.sorting import parse_sort
from hms.reports import generated, jobs, service
from hms.reports.schemas import (
    ClinicalAssessmentsRead,
    DashboardRead,
    ExportFormat,
    HcmsReportType,
    PatientStatisticsRead,
    Period,
    ReportGenerate,
    ReportJobAccepted,
    ReportJobRead,
    ReportRange,
    ReportRead,
    ReportSort,
    ReportStatus,
    ReportTypeParam,
    ReportUpdate,
    VisitVolumeRead,
)

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

ReadReports = Annotated[Principal, Depends(require(Perm.REPORT_READ))]

StartQ = Annotated[date | None, Query(description="First day, inclusive (UTC); default "
                                                  "end minus 29 days")]
EndQ = Annotated[date | None, Query(description="Last day, inclusive (UTC); default today")]
PeriodQ = Annotated[Period, Query(description="Grouping of the series: day, week (ISO, "
                                              "Monday first) or month")]


async def report_range(start: StartQ = None, end: EndQ = None, period: PeriodQ = Period.DAY
                 ) -> ReportRange:
    """Query parameters ``start``, ``end``, ``period`` as a validated range (422 when
    reversed or too long)."""
    return service.report_range(start, end, period)


async def range_only(start: StartQ = None, end: EndQ = None) -> ReportRange:
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


# --- seed 004 report files ---------------------------------------------------------------

async def _report_user(principal: CurrentPrincipal) -> Principal:
    """The caller holds ``report:generate`` or ``report:generate_billing`` (403 otherwise)."""
    generated.check_can_use_reports(principal)
    return principal


ReportUser = Annotated[Principal, Depends(_report_user)]

_REPORT_FILE_RESPONSES = {
    **PROBLEM_RESPONSES,
    200: {"description": "The report file",
          "content": {ct: {"schema": {"type": "string", "format": "binary"}}
                      for ct in generated.CONTENT_TYPES.values()}},
}


async def _request_report(actor: Principal, session: DbSession, request: Request,
                          response: Response, background: BackgroundTasks,
                          body: ReportGenerate) -> ReportRead:
    report = await generated.request_report(session, actor, body)
    jobs.start_report(background, request.app, report.id)
    response.headers["Location"] = f"{generated.REPORTS_PATH}/{report.id}"
    return report


@router.post("/generate", summary="Generate a report file (202; built in the background)",
             status_code=202, response_model=ReportRead, responses=PROBLEM_RESPONSES)
async def generate_report(body: ReportGenerate, actor: ReportUser, session: DbSession,
                          request: Request, response: Response,
                          background: BackgroundTasks) -> ReportRead:
    return await _request_report(actor, session, request, response, background, body)


@router.post("", summary="Create a report request (same as /reports/generate)",
             status_code=202, response_model=ReportRead, responses=PROBLEM_RESPONSES)
async def create_report(body: ReportGenerate, actor: ReportUser, session: DbSession,
                        request: Request, response: Response,
                        background: BackgroundTasks) -> ReportRead:
    return await _request_report(actor, session, request, response, background, body)


@router.get("", summary="List generated reports", response_model=Page[ReportRead],
            responses=PROBLEM_RESPONSES)
async def list_reports(
    actor: ReportUser,
    session: DbSession,
    page: Pagination,
    report_type: Annotated[HcmsReportType | None, Query()] = None,
    status: Annotated[ReportStatus | None, Query()] = None,
    date_from: Annotated[date | None, Query(description="Created on or after (UTC day)")
                         ] = None,
    date_to: Annotated[date | None, Query(description="Created on or before (UTC day)")
                       ] = None,
    q: Annotated[str | None, Query(max_length=100, description="Name contains")] = None,
    sort: Annotated[str | None, Query(max_length=200, description=(
        "Comma list of created_at, generated_at, report_name, report_type, status, "
        "start_date; '-' for descending; default -created_at"))] = None,
) -> Page[ReportRead]:
    order = parse_sort(sort, ReportSort, [("created_at", True)])
    return await generated.list_reports(session, actor, page, report_type=report_type,
                                        status=status, date_from=date_from,
                                        date_to=date_to, q=q, order=order)


@router.get("/{id}", summary="Get a report", response_model=ReportRead,
            responses=PROBLEM_RESPONSES)
async def get_report(id: uuid.UUID, actor: ReportUser, session: DbSession,
                     response: Response) -> ReportRead:
    report = await generated.get_report(session, actor, id)
    if report.status is ReportStatus.GENERATING:
        response.headers["Retry-After"] = "1"
    return report


@router.get("/{id}/download", summary="Download a completed report file",
            response_class=FileResponse, responses=_REPORT_FILE_RESPONSES)
async def download_report(id: uuid.UUID, actor: ReportUser, session: DbSession,
                          request: Request) -> FileResponse:
    settings: Settings = request.app.state.settings
    file = await generated.open_download(session, actor, id, settings.exports_dir)
    return FileResponse(
        file.path, media_type=file.content_type, filename=file.filename,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
    )


@router.put("/{id}", summary="Rename a report or change its parameters",
            response_model=ReportRead, responses=PROBLEM_RESPONSES)
async def update_report(id: uuid.UUID, body: ReportUpdate, actor: ReportUser,
                        session: DbSession) -> ReportRead:
    return await generated.update_report(session, actor, id, body)


@router.delete("/{id}", summary="Delete a report and its file", status_code=204,
               response_class=Response, responses=PROBLEM_RESPONSES)
async def delete_report(id: uuid.UUID, actor: ReportUser, session: DbSession,
                        request: Request, background: BackgroundTasks) -> Response:
    settings: Settings = request.app.state.settings
    file_name = await generated.delete_report(session, actor, id)
    if file_name:
        background.add_task(generated.remove_file, settings.exports_dir, file_name)
    return Response(status_code=204, background=background)
