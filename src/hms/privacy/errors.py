"""Domain errors of the privacy module."""

from __future__ import annotations

from hms.core.errors import Conflict, NotFound


class PatientAlreadyErased(Conflict):
    """409: the patient's identifying data was erased already."""

    code = "patient_already_erased"


class ErasureRequestNotFound(NotFound):
    """404: no erasure request has that id."""

    code = "erasure_request_not_found"
