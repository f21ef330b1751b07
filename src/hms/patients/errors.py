"""Domain errors of the patients module."""

from __future__ import annotations

import uuid

from hms.core.errors import Conflict, NotFound


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
