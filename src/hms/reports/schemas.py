"""Pydantic schemas of the reports module: the four live reports and the export jobs.

Every report is aggregates only: counts per category or period, never a patient's name,
number or national ID. Days are UTC calendar days; ``start``/``end`` are inclusive.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hms.reports.periods import Period

__all__ = [
    "BILLING_REPORT_TYPES",
    "ClinicalAssessmentsRead",
    "DashboardRead",
    "ExportFormat",
    "HcmsReportType",
    "JobStatus",
    "PatientStatisticsRead",
    "Period",
    "PeriodCount",
    "ReportFileFormat",
    "ReportGenerate",
    "ReportJobAccepted",
    "ReportJobRead",
    "ReportRange",
    "ReportRead",
    "ReportSort",
    "ReportStatus",
    "ReportType",
    "ReportTypeParam",
    "ReportUpdate",
    "VisitPeriodCount",
    "VisitVolumeRead",
]


class ReportType(StrEnum):
    """The reports that can be exported."""

    DASHBOARD = "dashboard"
    PATIENTS_STATISTICS = "patients_statistics"
    VISITS_VOLUME = "visits_volume"
    CLINICAL_ASSESSMENTS = "clinical_assessments"


class ReportTypeParam(StrEnum):
    """``report_type`` of the export route: a :class:`ReportType` or a short alias
    (``patients``, ``visits``, ``assessments``)."""

    DASHBOARD = "dashboard"
    PATIENTS_STATISTICS = "patients_statistics"
    VISITS_VOLUME = "visits_volume"
    CLINICAL_ASSESSMENTS = "clinical_assessments"
    PATIENTS = "patients"
    VISITS = "visits"
    ASSESSMENTS = "assessments"

    @property
    def canonical(self) -> ReportType:
        """The report this value names."""
        aliases = {
            "patients": ReportType.PATIENTS_STATISTICS,
            "visits": ReportType.VISITS_VOLUME,
            "assessments": ReportType.CLINICAL_ASSESSMENTS,
        }
        return aliases.get(self.value) or ReportType(self.value)


class ExportFormat(StrEnum):
    """File format of an export."""

    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


class JobStatus(StrEnum):
    """Life of an export job: queued -> running -> completed | failed."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ReportRange(BaseModel):
    """The days a report covers (inclusive, UTC) and its grouping period."""

    model_config = ConfigDict(frozen=True)

    start: date
    end: date
    period: Period = Period.DAY

    @property
    def days(self) -> int:
        """Number of days in the range."""
        return (self.end - self.start).days + 1


class PeriodCount(BaseModel):
    """A count for one period; ``start``/``end`` are clipped to the report range."""

    period: str = Field(description="2025-03-07 (day), 2025-W10 (ISO week) or 2025-03")
    start: date
    end: date
    count: int


class VisitPeriodCount(PeriodCount):
    """Visits started in one period, also split by their current status."""

    by_status: dict[str, int]


class DashboardPatients(BaseModel):
    """Registration figures (active patient records)."""

    total: int
    new_today: int
    new_last_7_days: int = Field(description="Registered today or in the 6 days before")
    new_last_30_days: int = Field(description="Registered today or in the 29 days before")


class DashboardVisits(BaseModel):
    """Visit figures."""

    active_now: int = Field(description="open + in_progress")
    open_now: int
    in_progress_now: int
    started_today: int
    closed_today: int
    started_last_7_days: int


class DashboardClinical(BaseModel):
    """Clinical activity figures."""

    forms_filled_today: int = Field(description="Completed or amended (not drafts)")
    forms_filled_today_by_code: dict[str, int]
    high_fall_risk_active_visits: int = Field(
        description="Open or in-progress visits with a nursing assessment in the Morse "
                    "high band (45+)")
    out_of_range_vitals_today: int = Field(
        description="Vital-sign values outside their reference range, recorded today")


class DashboardDocuments(BaseModel):
    """Documents uploaded."""

    uploaded_today: int
    uploaded_last_7_days: int


class DashboardRead(BaseModel):
    """Headline figures at ``generated_at``; "today" is the UTC day ``as_of``."""

    report_type: ReportType = ReportType.DASHBOARD
    generated_at: datetime
    as_of: date
    patients: DashboardPatients
    visits: DashboardVisits
    clinical: DashboardClinical
    documents: DashboardDocuments


class PatientStatisticsRead(BaseModel):
    """Patient population and registrations.

    ``by_gender`` and ``by_age_band`` describe the active patients registered up to the end
    of the range; ages are completed years at ``as_of`` (the range's last day).
    """

    report_type: ReportType = ReportType.PATIENTS_STATISTICS
    generated_at: datetime
    range: ReportRange
    as_of: date
    total_patients: int
    new_patients: int = Field(description="Registered within the range")
    by_gender: dict[str, int]
    by_age_band: dict[str, int] = Field(
        description="0-17, 18-34, 35-49, 50-64, 65+, unknown (no date of birth)")
    new_patients_per_period: list[PeriodCount]


class VisitVolumeRead(BaseModel):
    """Visits started within the range: per period, by current status and by department
    (``unassigned`` when a visit has none), most visits first."""

    report_type: ReportType = ReportType.VISITS_VOLUME
    generated_at: datetime
    range: ReportRange
    total_visits: int
    by_status: dict[str, int]
    by_department: dict[str, int]
    visits_per_period: list[VisitPeriodCount]


class ClinicalAssessmentsRead(BaseModel):
    """Forms filled within the range and what the nursing assessments found.

    ``forms`` is ``{form_code: {status: n}}``; ``fall_risk_bands`` counts Morse bands;
    ``pain_scores`` counts each 0-10 score; ``out_of_range_vitals`` counts vital-sign
    values outside their reference range, per measurement.
    """

    report_type: ReportType = ReportType.CLINICAL_ASSESSMENTS
    generated_at: datetime
    range: ReportRange
    forms_total: int
    forms: dict[str, dict[str, int]]
    fall_risk_bands: dict[str, int]
    pain_scores: dict[str, int]
    out_of_range_vitals: dict[str, int]


class ReportJobAccepted(BaseModel):
    """Answer of the export route (202): where to poll and, once completed, download."""

    job_id: uuid.UUID
    status: JobStatus
    status_url: str
    download_url: str


class ReportJobRead(BaseModel):
    """An export job as polled by the client."""

    job_id: uuid.UUID
    report_type: ReportType
    format: ExportFormat
    status: JobStatus
    params: dict[str, Any]
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    content_type: str | None
    size_bytes: int | None
    error: str | None
    status_url: str
    download_url: str


# --- seed 004 (HCMS) generated report files -------------------------------------------

#: Longest JSON text of a report's ``parameters`` (characters).
MAX_PARAMETERS_CHARS = 4000


class HcmsReportType(StrEnum):
    """Seed 004 section 7 ReportType: the seven report files (upper case accepted)."""

    PATIENT_STATISTICS = "patient_statistics"
    REVENUE = "revenue"
    APPOINTMENT_SUMMARY = "appointment_summary"
    SERVICE_UTILIZATION = "service_utilization"
    DOCTOR_PERFORMANCE = "doctor_performance"
    BILLING_SUMMARY = "billing_summary"
    OPERATIONAL_METRICS = "operational_metrics"

    @classmethod
    def _missing_(cls, value: object) -> HcmsReportType | None:
        if isinstance(value, str):
            key = value.strip().lower()
            for member in cls:
                if member.value == key:
                    return member
        return None


#: The report types a billing officer may generate (HCMS 11 "generate billing reports").
BILLING_REPORT_TYPES = frozenset({HcmsReportType.REVENUE, HcmsReportType.BILLING_SUMMARY})


class ReportFileFormat(StrEnum):
    """File format of a seed 004 report (lower or upper case accepted)."""

    PDF = "pdf"
    XLSX = "xlsx"

    @classmethod
    def _missing_(cls, value: object) -> ReportFileFormat | None:
        if isinstance(value, str):
            key = value.strip().lower()
            for member in cls:
                if member.value == key:
                    return member
        return None


class ReportStatus(StrEnum):
    """Seed 004 section 7 ReportStatus: generating -> completed | failed."""

    GENERATING = "generating"
    COMPLETED = "completed"
    FAILED = "failed"


class ReportSort(StrEnum):
    """Sort keys of ``GET /reports`` (``-key`` for descending)."""

    CREATED_AT = "created_at"
    GENERATED_AT = "generated_at"
    REPORT_NAME = "report_name"
    REPORT_TYPE = "report_type"
    STATUS = "status"
    START_DATE = "start_date"


def _check_parameters(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """At most 4000 characters of JSON, and only JSON (no NaN or Infinity)."""
    import json

    if value is None:
        return value
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise ValueError("parameters must be plain JSON (no NaN or Infinity)") from exc
    if len(text) > MAX_PARAMETERS_CHARS:
        raise ValueError(f"parameters may hold at most {MAX_PARAMETERS_CHARS} characters "
                         "of JSON")
    return value


def _check_name(value: str | None) -> str | None:
    """A report name is one line of printable text (no control characters)."""
    if value is not None and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("report_name may not contain control characters")
    if value is None:
        return None
    return value.strip() or None


class ReportGenerate(BaseModel):
    """Body of ``POST /reports/generate`` and ``POST /reports`` (seed 004 10 "Report
    Generation Workflow").

    ``start_date``/``end_date`` are inclusive UTC days; default: the 30 days ending today.
    ``start_date`` after ``end_date`` is refused (422 ``invalid_date_range``, seed 004 12).
    ``report_name`` defaults to ``"<Type> <start> to <end>"``. ``parameters`` is kept with
    the report and printed in its file (at most 4000 characters of JSON).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    report_type: HcmsReportType
    start_date: date | None = None
    end_date: date | None = None
    format: ReportFileFormat = ReportFileFormat.PDF
    report_name: str | None = Field(default=None, min_length=1, max_length=200)
    parameters: dict[str, Any] | None = None

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_parameters(value)

    @field_validator("report_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return _check_name(value)


class ReportUpdate(BaseModel):
    """Body of ``PUT /reports/{id}``: rename or change the stored parameters only (the
    file is not rebuilt)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    report_name: str | None = Field(default=None, min_length=1, max_length=200)
    parameters: dict[str, Any] | None = None

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_parameters(value)

    @field_validator("report_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return _check_name(value)


class ReportRead(BaseModel):
    """A seed 004 report: its request and, once completed, its file.

    ``file_path`` is the stored file's generated name (under the server's exports folder);
    ``download_url`` serves it once ``status`` is completed. ``failure_reason`` says why a
    failed report failed (never patient data).
    """

    id: uuid.UUID
    report_name: str
    report_type: HcmsReportType
    generated_by_user_id: uuid.UUID
    start_date: date | None
    end_date: date | None
    parameters: dict[str, Any]
    format: ReportFileFormat
    status: ReportStatus
    file_path: str | None
    content_type: str | None
    size_bytes: int | None
    failure_reason: str | None
    generated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    download_url: str
