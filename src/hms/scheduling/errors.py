"""Domain errors of the scheduling module; each ``code`` names the seed 004 rule broken."""

from hms.core.errors import Conflict, Forbidden, NotFound, RuleViolation


class AppointmentNotFound(NotFound):
    """404: no such appointment."""

    code = "appointment_not_found"

    def __init__(self, detail: str = "Appointment not found") -> None:
        super().__init__(detail)


class AppointmentInPast(RuleViolation):
    """422: HCMS 11.2 / 12 "Appointment date cannot be in the past" (compared in UTC)."""

    code = "appointment_in_past"


class AppointmentOverlap(Conflict):
    """409: HCMS 11.2 "No double-booking: same doctor cannot have overlapping
    appointments" (cancelled and no-show appointments do not block)."""

    code = "appointment_overlap"


class InvalidStatusTransition(Conflict):
    """409: the status change is not allowed by the appointment status machine."""

    code = "invalid_status_transition"


class AppointmentNotCheckedIn(RuleViolation):
    """422: HCMS 11.3 "Consultation can only be created from appointments with status
    checked_in"."""

    code = "appointment_not_checked_in"


class AppointmentNotEditable(Conflict):
    """409: time, duration, doctor or department change once the patient checked in."""

    code = "appointment_not_editable"


class NotAppointmentDoctor(Forbidden):
    """403: a physician acting on another doctor's appointment."""

    code = "not_appointment_doctor"
