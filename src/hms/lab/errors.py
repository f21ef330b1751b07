"""Domain errors of the lab module (seed 004 sections 10-12 rules)."""

from __future__ import annotations

from hms.core.errors import Conflict, RuleViolation


class InvalidStatusTransition(RuleViolation):
    """422 ``invalid_status_transition``: the lab test cannot move from its status to the
    requested one (seed 004 11.5: ordered -> sample_collected -> in_progress -> completed,
    no skipping; any non-final status -> cancelled). ``from``/``to`` name the statuses."""

    code = "invalid_status_transition"

    def __init__(self, current: str, target: str, hint: str = "") -> None:
        detail = f"A lab test cannot move from {current} to {target}" + (
            f": {hint}" if hint else " (rule invalid_status_transition)")
        super().__init__(detail, extra={"from": current, "to": target})


class ResultsBeforeCollection(RuleViolation):
    """422 ``results_before_collection``: results can only be entered after the sample is
    collected (seed 004 11.5)."""

    code = "results_before_collection"

    def __init__(self) -> None:
        super().__init__(
            "Lab test results can only be entered after the sample is collected "
            "(rule results_before_collection)", extra={"from": "ordered", "to": "completed"})


class ResultsNotEditable(RuleViolation):
    """422 ``results_not_editable``: results are written only by
    ``POST /lab-tests/{id}/enter-results`` (never by ``PUT``)."""

    code = "results_not_editable"


class ConsultationPatientMismatch(RuleViolation):
    """422 ``consultation_patient_mismatch``: the consultation belongs to another patient."""

    code = "consultation_patient_mismatch"


class VisitPatientMismatch(RuleViolation):
    """422 ``visit_patient_mismatch``: the visit belongs to another patient."""

    code = "visit_patient_mismatch"


class OrderedByNotCaller(RuleViolation):
    """422 ``ordered_by_not_caller``: a doctor orders tests in their own name only."""

    code = "ordered_by_not_caller"


class LabTestNotCancellable(Conflict):
    """409 ``lab_test_not_cancellable``: only an ``ordered`` test is withdrawn by DELETE;
    a test whose sample was taken is cancelled through ``PUT`` (status ``cancelled``),
    and completed or cancelled tests are kept as they are (seed 004 14.7: clinical records
    are never deleted)."""

    code = "lab_test_not_cancellable"


class ResultsRequired(RuleViolation):
    """422 ``results_required``: a test is completed only by entering its results
    (``POST /lab-tests/{id}/enter-results``), never by setting the status."""

    code = "results_required"


class LabTestFinal(Conflict):
    """409 ``lab_test_final``: a completed or cancelled test only accepts notes."""

    code = "lab_test_final"
