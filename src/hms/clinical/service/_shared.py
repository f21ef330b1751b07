"""Helpers of the seed 004 clinical use cases: other modules reached lazily, field errors,
the 24-hour lock, the allergy check and the prescription insert."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.clinical import allergies as allergy_rules
from hms.clinical import clock
from hms.clinical.errors import (
    AllergyConflict,
    DateInFuture,
    FollowUpBeforeConsultation,
    NotAppointmentDoctor,
)
from hms.clinical.models import Consultation, Prescription
from hms.clinical.repository import (
    ConsultationRepository,
)
from hms.clinical.schemas import (
    AllergyWarning,
    ConsultationStatus,
    PrescriptionItem,
    PrescriptionRead,
)
from hms.clinical.service._base import (
    _VITAL_FIELDS,
)
from hms.core.auth import Principal
from hms.core.errors import NotFound, ValidationFailed

# --- seed 004 (HCMS) use cases: vital signs, consultations, prescriptions ----------------
# Other modules are reached through their services; scheduling and lab with function-level
# imports (scheduling -> visits -> clinical, lab -> clinical would otherwise form cycles).

_IN_CARE = {"checked_in", "in_progress"}
_LOCK_AFTER = timedelta(hours=24)  # seed 004 11.3 "cannot be edited after 24 hours"
_FUTURE_SLACK = timedelta(minutes=5)  # clock skew allowed on recorded_at
_VITALS_SNAPSHOT = (*_VITAL_FIELDS, "bmi", "notes", "recorded_at")
_CONSULTATION_SNAPSHOT = (
    "chief_complaint", "present_illness", "examination_findings", "diagnosis",
    "treatment_plan", "notes", "follow_up_required", "follow_up_date", "status",
    "completed_at")
_PRESCRIPTION_SNAPSHOT = (
    "medication_name", "dosage", "frequency", "duration", "quantity", "route",
    "special_instructions", "is_active", "prescribed_date", "allergy_override")


def _scheduling() -> Any:
    from hms.scheduling import service as scheduling_service

    return scheduling_service


def _visits() -> Any:
    from hms.visits import service as visits_service

    return visits_service


def _lab() -> Any:
    from hms.lab import service as lab_service

    return lab_service


def _snap(row: object, fields: Sequence[str]) -> dict[str, Any]:
    return {k: getattr(row, k) for k in fields}


def _field_error(field: str, message: str, kind: str) -> list[dict[str, Any]]:
    return [{"field": field, "in": "body", "message": message, "type": kind}]


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


async def _appointment(session: AsyncSession, appointment_id: uuid.UUID,
                       field: str = "appointment_id") -> Any:
    try:
        return await _scheduling().get_appointment(session, appointment_id)
    except NotFound as exc:
        raise ValidationFailed("Unknown appointment",
                               errors=_field_error(field, "no such appointment",
                                                   "not_found")) from exc


def _check_pressure(systolic: int | None, diastolic: int | None) -> None:
    if systolic is not None and diastolic is not None and systolic <= diastolic:
        raise ValidationFailed(
            "Systolic blood pressure must be greater than diastolic (seed 004 12)",
            errors=_field_error("blood_pressure_systolic",
                                "must be greater than blood_pressure_diastolic",
                                "systolic_not_above_diastolic"))


def _check_not_future(value: datetime | None, field: str) -> None:
    if value is not None and value > clock.now() + _FUTURE_SLACK:
        raise DateInFuture(f"{field} lies in the future (rule date_in_future)",
                           errors=_field_error(field, "must not be in the future",
                                               "date_in_future"))


# Consultations ---------------------------------------------------------------------------

def _is_locked(row: Consultation) -> bool:
    return (row.status == ConsultationStatus.COMPLETED.value and row.completed_at is not None
            and clock.now() - row.completed_at > _LOCK_AFTER)


def _check_follow_up(consultation_date: datetime, follow_up: date | None) -> None:
    if follow_up is not None and follow_up <= consultation_date.date():
        raise FollowUpBeforeConsultation(
            "follow_up_date must be after the consultation date "
            "(rule follow_up_before_consultation)",
            errors=_field_error("follow_up_date", "must be after the consultation date",
                                "follow_up_before_consultation"))


def _require_doctor(actor: Principal, doctor_id: uuid.UUID, what: str) -> None:
    if actor.user_id != doctor_id:
        raise NotAppointmentDoctor(
            f"Only the {what}'s doctor may do this (rule not_appointment_doctor)")


def _allergy_warnings(medication: str, allergies: list[str]) -> list[AllergyWarning]:
    return [AllergyWarning(allergy=a, medication=medication)
            for a in allergy_rules.conflicts(medication, allergies)]


def _refuse_allergies(warnings: list[AllergyWarning]) -> None:
    if warnings:
        names = ", ".join(sorted({f"{w.medication} / {w.allergy}" for w in warnings}))
        raise AllergyConflict(
            f"Medication matches a recorded allergy ({names}) (rule allergy_conflict); "
            "send allergy_override: true to prescribe anyway",
            extra={"conflicts": [w.model_dump() for w in warnings]})


async def _add_prescription(session: AsyncSession, actor: Principal,
                            consultation: Consultation, item: PrescriptionItem, *,
                            is_active: bool, override: bool,
                            warnings: list[AllergyWarning]) -> PrescriptionRead:
    (out,) = await _add_prescriptions(session, actor, consultation, [(item, warnings)],
                                      is_active=is_active, override=override)
    return out


async def _add_prescriptions(session: AsyncSession, actor: Principal,
                             consultation: Consultation,
                             items: list[tuple[PrescriptionItem, list[AllergyWarning]]], *,
                             is_active: bool, override: bool) -> list[PrescriptionRead]:
    """Insert the consultation's prescriptions (one flush: one INSERT for the batch), each
    audited as a create; ``items`` pairs each item with its allergy warnings.

    Raises:
        DateInFuture (422, ``date_in_future``): a ``prescribed_date`` after today (UTC);
            nothing is inserted.
    """
    today = clock.today()
    rows = []
    for item, warnings in items:
        issued = item.prescribed_date or today
        if issued > today:
            raise DateInFuture("prescribed_date lies in the future (rule date_in_future)",
                               errors=_field_error("prescribed_date",
                                                   "must not be in the future",
                                                   "date_in_future"))
        rows.append(Prescription(
            consultation_id=consultation.id, patient_id=consultation.patient_id,
            doctor_id=actor.user_id, is_active=is_active, prescribed_date=issued,
            allergy_override=bool(warnings) and override,
            **item.model_dump(exclude={"prescribed_date"})))
    if not rows:
        return []
    await ConsultationRepository(session).add_all(rows)
    out = []
    for row, (_, warnings) in zip(rows, items, strict=True):
        await audit.record(session, AuditAction.CREATE, "prescription", row.id,
                           patient_id=row.patient_id,
                           changes={"after": _snap(row, _PRESCRIPTION_SNAPSHOT)})
        read = PrescriptionRead.model_validate(row)
        read.warnings = warnings
        out.append(read)
    return out
