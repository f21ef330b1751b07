"""Domain errors of the reports module (rendered as problem+json)."""

from __future__ import annotations

from hms.core.errors import Conflict, Forbidden, NotFound, RuleViolation


class ReportJobNotFound(NotFound):
    """404: no export job has that id."""

    code = "report_job_not_found"


class ReportNotReady(Conflict):
    """409: the export is still queued or running; poll the job until it is completed."""

    code = "report_not_ready"
    title = "Report not ready"


class ReportFailed(Conflict):
    """409: the export job failed; its ``error`` says why. Request a new export."""

    code = "report_failed"
    title = "Report failed"


class ReportFileMissing(NotFound):
    """404: the job completed but its file is no longer stored."""

    code = "report_file_missing"


class ReportNotFound(NotFound):
    """404: no report has that id (or the caller may not see it: a billing officer sees
    only the reports they generated)."""

    code = "report_not_found"


class InvalidDateRange(RuleViolation):
    """422: the report's start_date is after its end_date (seed 004 12 "Report date
    ranges: start_date must be before or equal to end_date")."""

    code = "invalid_date_range"
    title = "Invalid date range"


class ReportTypeNotAllowed(Forbidden):
    """403: the caller's role may generate only the billing report types (revenue,
    billing_summary; HCMS 11 Billing Officer "generate billing reports")."""

    code = "report_type_not_allowed"
    title = "Report type not allowed"


class ReportNotCompleted(Conflict):
    """409: the report is still generating or has failed; there is no file to download."""

    code = "report_not_completed"
    title = "Report not completed"
