"""Domain errors of the visits module."""

from hms.core.errors import Conflict, RuleViolation


class VisitClosed(Conflict):
    """409: the visit is closed or cancelled; its forms are locked."""

    code = "visit_closed"


class InvalidVisitTransition(Conflict):
    """409: the status change is not allowed from the current status."""

    code = "invalid_visit_transition"


class PatientNotEligible(RuleViolation):
    """422: a visit cannot be opened for a deceased or deactivated patient."""

    code = "patient_not_eligible"


class NotAPhysician(RuleViolation):
    """422: the attending physician must be an active physician account."""

    code = "attending_not_physician"
