"""Domain errors of the patients module."""

from __future__ import annotations

import uuid

from hms.core.errors import Conflict, NotFound, RuleViolation


class PatientNotFound(NotFound):
    """404: no patient has that id, patient number or national ID."""

    code = "patient_not_found"

    def __init__(self, detail: str = "Patient not found") -> None:
        super().__init__(detail)


class DuplicatePatient(Conflict):
    """409: another patient already holds this identifier.

    The problem document names the existing patient in ``existing_patient``
    (``{"id", "patient_number"}``) so the client can open it instead of registering twice.
    """

    code = "duplicate_patient"

    def __init__(self, field: str, existing_id: uuid.UUID | None,
                 existing_number: str | None) -> None:
        labels = {
            "national_id": "national ID",
            "patient_number": "patient number",
            "source": "source record",
        }
        super().__init__(
            f"A patient with this {labels.get(field, field)} already exists",
            errors=[{"field": field if field != "source" else "source_id", "in": "body",
                     "message": "already registered", "type": "duplicate"}],
            extra={
                "existing_patient": (
                    {"id": str(existing_id), "patient_number": existing_number}
                    if existing_id is not None else None
                ),
            },
        )
        self.field = field
        self.existing_id = existing_id


class PatientNotActive(RuleViolation):
    """422 ``patient_not_active``: the patient is unknown, inactive, deceased or erased
    (seed 004 section 11: only active patients can be scheduled or treated)."""

    code = "patient_not_active"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(
            f"Only active patients can be scheduled or treated: the patient {reason}",
            errors=[{"field": field, "in": "body", "message": f"patient {reason}",
                     "type": "patient_not_active"}],
        )


class MedicalRecordNotFound(NotFound):
    """404: no medical record has that id (or the patient has none)."""

    code = "medical_record_not_found"

    def __init__(self, detail: str = "Medical record not found") -> None:
        super().__init__(detail)


class MedicalRecordExists(Conflict):
    """409 ``medical_record_exists``: a patient has exactly one medical record (seed 004
    section 6, ``patient_id`` unique); ``existing_record_id`` names it."""

    code = "medical_record_exists"

    def __init__(self, existing_id: uuid.UUID) -> None:
        super().__init__(
            "The patient already has a medical record (one per patient)",
            errors=[{"field": "patient_id", "in": "body", "message": "already has a record",
                     "type": "medical_record_exists"}],
            extra={"existing_record_id": str(existing_id)},
        )


class MedicalRecordRetention(Conflict):
    """409 ``medical_record_retention``: medical records are never deleted (seed 004 14.7,
    regulatory retention)."""

    code = "medical_record_retention"

    def __init__(self) -> None:
        super().__init__("Medical records are never deleted (seed 004 14.7: regulatory "
                         "retention); the record is kept")
