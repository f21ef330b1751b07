"""Domain errors of the clinical module (seed 004 sections 11-12 rules)."""

from hms.core.errors import Conflict, Forbidden, RuleViolation


class AppointmentNotCheckedIn(RuleViolation):
    """422: a consultation starts only from a checked-in appointment (seed 004 11.3)."""

    code = "appointment_not_checked_in"


class VitalsRequired(RuleViolation):
    """422: vital signs must be recorded before the consultation (seed 004 10, 11.3)."""

    code = "vitals_required"


class NotAppointmentDoctor(Forbidden):
    """403: only the appointment's (consultation's) doctor writes its consultation."""

    code = "not_appointment_doctor"


class ConsultationExists(Conflict):
    """409: one consultation per appointment (seed 004: appointment_id unique)."""

    code = "consultation_exists"


class ConsultationDateMismatch(RuleViolation):
    """422: the consultation date must be the appointment date."""

    code = "consultation_date_mismatch"


class FollowUpBeforeConsultation(RuleViolation):
    """422: the follow-up date must come after the consultation date."""

    code = "follow_up_before_consultation"


class ConsultationLocked(Conflict):
    """409: a consultation completed more than 24 hours ago is read-only (seed 004 11.3)."""

    code = "consultation_locked"


class ConsultationAlreadyCompleted(Conflict):
    """409: the consultation is already completed."""

    code = "consultation_already_completed"


class ClinicalRecordRetention(Conflict):
    """409: clinical records are never deleted (seed 004 14.7)."""

    code = "clinical_record_retention"


class AllergyConflict(RuleViolation):
    """422: the medication matches a recorded allergy (seed 004 10/11.4); send
    ``allergy_override: true`` to save it anyway with a warning."""

    code = "allergy_conflict"


class AppointmentNotActive(RuleViolation):
    """422: vital signs for an appointment need it checked in or in progress."""

    code = "appointment_not_in_care"


class RecordMismatch(RuleViolation):
    """422: references in the body disagree (patient of the appointment, visit...)."""

    code = "record_mismatch"


class PrescriptionExpired(RuleViolation):
    """422: a prescription past its 30-day validity cannot be reactivated."""

    code = "prescription_expired"


class DateInFuture(RuleViolation):
    """422: a recorded time or issue date lies in the future."""

    code = "date_in_future"
