"""Domain errors of the reports module (rendered as problem+json)."""

from __future__ import annotations

from hms.core.errors import Conflict, NotFound


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
