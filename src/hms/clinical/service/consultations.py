"""Seed 004 consultation use cases: start from a checked-in appointment, update with the
24-hour lock, complete in one transaction, details."""

from __future__ import annotations

import uuid
from datetime import UTC, date, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.clinical import clock
from hms.clinical.errors import (
    AppointmentNotCheckedIn,
    ClinicalRecordRetention,
    ConsultationAlreadyCompleted,
    ConsultationDateMismatch,
    ConsultationExists,
    ConsultationLocked,
    RecordMismatch,
    VitalsRequired,
)
from hms.clinical.models import Consultation
from hms.clinical.repository import (
    ConsultationFilters,
    ConsultationRepository,
    VitalsRepository,
)
from hms.clinical.schemas import (
    ConsultationComplete,
    ConsultationCompleted,
    ConsultationCreate,
    ConsultationDetails,
    ConsultationRead,
    ConsultationSort,
    ConsultationStatus,
    ConsultationUpdate,
    DiagnosisImport,
    PrescriptionRead,
)
from hms.clinical.service._base import (
    get_consultation,
    record_diagnosis,
)
from hms.clinical.service._shared import (
    _CONSULTATION_SNAPSHOT,
    _add_prescriptions,
    _allergy_warnings,
    _appointment,
    _check_follow_up,
    _day_start,
    _field_error,
    _is_locked,
    _lab,
    _refuse_allergies,
    _require_doctor,
    _scheduling,
    _snap,
)
from hms.core.auth import Principal
from hms.core.errors import NotFound, PreconditionFailed
from hms.core.pagination import Page, PageParams
from hms.core.sorting import parse_sort
from hms.identity import service as identity_service
from hms.patients import service as patients_service


async def create_consultation(session: AsyncSession, actor: Principal,
                              data: ConsultationCreate) -> ConsultationRead:
    """Start a consultation from a checked-in appointment (seed 004 10 and 11.3).

    Moves the appointment to ``in_progress`` (scheduling.start_consultation) and ties the
    consultation to the visit opened at check-in.

    Raises:
        ValidationFailed (422): unknown appointment.
        NotAppointmentDoctor (403, ``not_appointment_doctor``): caller is not its doctor.
        ConsultationExists (409, ``consultation_exists``): one per appointment.
        AppointmentNotCheckedIn (422, ``appointment_not_checked_in``).
        VitalsRequired (422, ``vitals_required``): no vital signs for it or its visit.
        RecordMismatch (422): ``patient_id``/``doctor_id`` differ from the appointment's.
        ConsultationDateMismatch (422): ``consultation_date`` not the appointment date.
        FollowUpBeforeConsultation (422): follow-up not after the consultation date.
        PatientNotActive (422, ``patient_not_active``).
    """
    appt = await _appointment(session, data.appointment_id)
    if data.doctor_id is not None and data.doctor_id != appt.doctor_id:
        raise RecordMismatch("doctor_id is not the appointment's doctor",
                             errors=_field_error("doctor_id", "not the appointment's doctor",
                                                 "record_mismatch"))
    if data.patient_id is not None and data.patient_id != appt.patient_id:
        raise RecordMismatch("patient_id is not the appointment's patient",
                             errors=_field_error("patient_id", "not the appointment's "
                                                 "patient", "record_mismatch"))
    _require_doctor(actor, appt.doctor_id, "appointment")
    repo = ConsultationRepository(session)
    existing = await repo.for_appointment(appt.id)
    if existing is not None:
        raise ConsultationExists("This appointment already has a consultation "
                                 "(rule consultation_exists)",
                                 extra={"existing_id": str(existing.id)})
    if str(appt.status) != "checked_in":
        raise AppointmentNotCheckedIn(
            "A consultation can only be created from a checked-in appointment "
            f"(rule appointment_not_checked_in; status is {appt.status})")
    if not await VitalsRepository(session).exists_for(appt.id, appt.visit_id):
        raise VitalsRequired("Vital signs must be recorded before the consultation "
                             "(rule vitals_required, seed 004 11.3)")
    when = data.consultation_date or clock.now()
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when.astimezone(UTC).date() != appt.appointment_date:
        raise ConsultationDateMismatch(
            "consultation_date must fall on the appointment date (UTC) "
            "(rule consultation_date_mismatch)",
            errors=_field_error("consultation_date", "not the appointment date",
                                "consultation_date_mismatch"))
    _check_follow_up(when, data.follow_up_date)
    await patients_service.require_active_patient(session, appt.patient_id)
    fields = data.model_dump(exclude_unset=True, exclude={
        "appointment_id", "patient_id", "doctor_id", "consultation_date"})
    if fields.get("follow_up_required") is None:
        fields["follow_up_required"] = data.follow_up_date is not None
    if not fields.get("chief_complaint") and getattr(appt, "reason", None):
        fields["chief_complaint"] = appt.reason
    row = Consultation(appointment_id=appt.id, visit_id=appt.visit_id,
                       patient_id=appt.patient_id, doctor_id=appt.doctor_id,
                       consultation_date=when, status=ConsultationStatus.IN_PROGRESS.value,
                       **fields)
    try:
        # No SAVEPOINT: a duplicate (another request created it since the check above)
        # ends this request, whose transaction then rolls back whole.
        await repo.add(row)
    except IntegrityError as exc:
        raise ConsultationExists("This appointment already has a consultation "
                                 "(rule consultation_exists)") from exc
    await _scheduling().start_consultation(session, actor, appt.id)
    await audit.record(session, AuditAction.CREATE, "consultation", row.id,
                       patient_id=row.patient_id,
                       changes={"after": _snap(row, _CONSULTATION_SNAPSHOT)})
    return ConsultationRead.model_validate(row)


async def read_consultation(session: AsyncSession, actor: Principal,
                            consultation_id: uuid.UUID) -> ConsultationRead:
    """A consultation, audited as a read of patient data.

    Raises:
        NotFound (404): no such consultation.
    """
    out = await get_consultation(session, consultation_id)
    await audit.record(session, AuditAction.READ, "consultation", out.id,
                       patient_id=out.patient_id)
    return out


async def list_consultations(
    session: AsyncSession, actor: Principal, page: PageParams, *,
    patient_id: uuid.UUID | None = None, doctor_id: uuid.UUID | None = None,
    appointment_id: uuid.UUID | None = None, visit_id: uuid.UUID | None = None,
    status: ConsultationStatus | None = None, follow_up_required: bool | None = None,
    date_from: date | None = None, date_to: date | None = None, q: str | None = None,
    sort: str | None = None,
) -> Page[ConsultationRead]:
    """A page of consultations (default newest ``consultation_date`` first); reads audited.

    Args:
        date_from, date_to: inclusive UTC dates on ``consultation_date``.
        q: case-insensitive substring of the diagnosis or chief complaint.

    Raises:
        ValidationFailed (422): unknown sort key.
    """
    order = parse_sort(sort, ConsultationSort, [("consultation_date", True)])
    rows, total = await ConsultationRepository(session).page(
        ConsultationFilters(
            patient_id=patient_id, doctor_id=doctor_id, appointment_id=appointment_id,
            visit_id=visit_id, status=status.value if status else None,
            follow_up_required=follow_up_required,
            date_from=_day_start(date_from) if date_from else None,
            date_to=_day_start(date_to) + timedelta(days=1) if date_to else None, q=q),
        offset=page.offset, limit=page.page_size, order=order)
    await audit.record_reads(session, "consultation", [(r.id, r.patient_id) for r in rows])
    return Page[ConsultationRead](items=[ConsultationRead.model_validate(r) for r in rows],
                                  total=total, page=page.page, page_size=page.page_size)


async def _editable(session: AsyncSession, actor: Principal, consultation_id: uuid.UUID,
                    expected_version: int | None = None) -> Consultation:
    row = await ConsultationRepository(session).get(consultation_id, for_update=True)
    if row is None:
        raise NotFound("Consultation not found")
    _require_doctor(actor, row.doctor_id, "consultation")
    if expected_version is not None and expected_version != row.version:
        raise PreconditionFailed(f"Consultation changed since version {expected_version}; "
                                 f"current version is {row.version}")
    if _is_locked(row):
        raise ConsultationLocked("A consultation completed more than 24 hours ago can no "
                                 "longer be edited (rule consultation_locked, seed 004 11.3)")
    return row


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed("Consultation changed by another user; reload and retry"
                                 ) from exc


async def update_consultation(session: AsyncSession, actor: Principal,
                              consultation_id: uuid.UUID, data: ConsultationUpdate,
                              if_match: int | None = None) -> ConsultationRead:
    """Partial update of a consultation by its doctor; old/new values audited.

    Raises:
        NotFound (404); NotAppointmentDoctor (403); PreconditionFailed (412): stale
        ``version``/``If-Match``; ConsultationLocked (409, ``consultation_locked``):
        completed more than 24 h ago (seed 004 11.3); FollowUpBeforeConsultation (422).
    """
    expected = data.version if data.version is not None else if_match
    row = await _editable(session, actor, consultation_id, expected)
    fields = data.model_dump(exclude_unset=True, exclude={"version"})
    if "follow_up_required" in fields and fields["follow_up_required"] is None:
        fields.pop("follow_up_required")
    _check_follow_up(row.consultation_date, fields.get("follow_up_date", row.follow_up_date))
    before = _snap(row, _CONSULTATION_SNAPSHOT)
    for key, value in fields.items():
        setattr(row, key, value)
    await _flush(session)
    await audit.record(session, AuditAction.UPDATE, "consultation", row.id,
                       patient_id=row.patient_id,
                       changes=audit.diff(before, _snap(row, _CONSULTATION_SNAPSHOT)))
    return ConsultationRead.model_validate(row)


async def delete_consultation(session: AsyncSession, actor: Principal,
                              consultation_id: uuid.UUID) -> None:
    """Refuse: consultations are clinical records, never deleted (seed 004 14.7).

    Raises:
        NotFound (404); ClinicalRecordRetention (409, ``clinical_record_retention``).
    """
    await get_consultation(session, consultation_id)
    raise ClinicalRecordRetention(
        "Consultations are clinical records and are never deleted (rule "
        "clinical_record_retention, seed 004 14.7)")


async def complete_consultation(session: AsyncSession, actor: Principal,
                                consultation_id: uuid.UUID, data: ConsultationComplete
                                ) -> ConsultationCompleted:
    """Complete a consultation in ONE transaction (seed 004 10 "Consultation Workflow"):
    set the note fields sent, create every prescription (allergy-checked) and every lab
    order (lab.order_tests), mark the consultation completed, append the diagnosis to the
    patient's medical record, record it as a diagnosis [Condition] of the visit, and
    complete the appointment. Any failure raises and the request's transaction rolls back:
    nothing is written.

    Raises:
        NotFound (404); NotAppointmentDoctor (403);
        ConsultationAlreadyCompleted (409, ``consultation_already_completed``);
        AllergyConflict (422, ``allergy_conflict``): a medication matches a recorded allergy
            and ``allergy_override`` is false;
        FollowUpBeforeConsultation (422); PreconditionFailed (412): stale version;
        errors of lab.order_tests and scheduling.complete_appointment.
    """
    row = await _editable(session, actor, consultation_id, data.version)
    if row.status == ConsultationStatus.COMPLETED.value:
        raise ConsultationAlreadyCompleted("The consultation is already completed "
                                           "(rule consultation_already_completed)")
    fields = data.model_dump(exclude_unset=True, exclude={
        "version", "prescriptions", "lab_tests", "allergy_override"})
    if "follow_up_required" in fields and fields["follow_up_required"] is None:
        fields.pop("follow_up_required")
    _check_follow_up(row.consultation_date, fields.get("follow_up_date", row.follow_up_date))
    await patients_service.require_active_patient(session, row.patient_id)
    allergies = (await patients_service.allergies_of(session, row.patient_id)
                 if data.prescriptions else [])
    checks = [_allergy_warnings(p.medication_name, allergies) for p in data.prescriptions]
    if not data.allergy_override:
        _refuse_allergies([w for ws in checks for w in ws])
    before = _snap(row, _CONSULTATION_SNAPSHOT)
    for key, value in fields.items():
        setattr(row, key, value)
    prescriptions = await _add_prescriptions(
        session, actor, row, list(zip(data.prescriptions, checks, strict=True)),
        is_active=True, override=data.allergy_override)
    lab_tests: list[Any] = []
    if data.lab_tests:
        lab_tests = list(await _lab().order_tests(
            session, actor, patient_id=row.patient_id, consultation_id=row.id,
            tests=data.lab_tests))
    row.status = ConsultationStatus.COMPLETED.value
    row.completed_at = clock.now()
    await _flush(session)
    if row.diagnosis:
        await patients_service.append_to_medical_record(
            session, row.patient_id, actor_id=actor.user_id,
            note=f"Consultation {row.id}: diagnosis {row.diagnosis}"
                 + (f"; plan {row.treatment_plan}" if row.treatment_plan else ""))
        await record_diagnosis(session, patient_id=row.patient_id, visit_id=row.visit_id,
                               recorded_by=actor.user_id,
                               data=DiagnosisImport(display=row.diagnosis))
    if row.appointment_id is not None:  # unless already completed on its own route
        await _scheduling().complete_appointment(session, actor, row.appointment_id,
                                                 if_in_progress=True)
    await audit.record(session, AuditAction.UPDATE, "consultation", row.id,
                       patient_id=row.patient_id,
                       changes=audit.diff(before, _snap(row, _CONSULTATION_SNAPSHOT)))
    return ConsultationCompleted(
        **ConsultationRead.model_validate(row).model_dump(),
        prescriptions=prescriptions, lab_tests=lab_tests,
        warnings=[w for p in prescriptions for w in p.warnings])


async def consultation_details(session: AsyncSession, actor: Principal,
                               consultation_id: uuid.UUID) -> ConsultationDetails:
    """A consultation with its patient, doctor, prescriptions and lab tests, in a fixed
    number of statements whatever the number of children (audited as a read).

    Raises:
        NotFound (404): no such consultation.
    """
    consultation = await get_consultation(session, consultation_id)
    patients = await patients_service.patients_by_ids(session, [consultation.patient_id])
    doctors = await identity_service.users_by_ids(session, [consultation.doctor_id])
    rows = await ConsultationRepository(session).prescriptions_for([consultation.id])
    labs = await _lab().tests_for_consultations(session, [consultation.id])
    patient = patients.get(consultation.patient_id)
    if patient is not None:
        patient = patients_service.present_summary(
            patient, patients_service.identifier_access(actor))
    await audit.record(session, AuditAction.READ, "consultation", consultation.id,
                       patient_id=consultation.patient_id)
    return ConsultationDetails(
        **consultation.model_dump(), patient=patient,
        doctor=doctors.get(consultation.doctor_id),
        prescriptions=[PrescriptionRead.model_validate(r) for r in rows],
        lab_tests=labs.get(consultation.id, []))
