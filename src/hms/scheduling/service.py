"""Appointment use cases (seed 004 HCMS sections 9-12): book, list, read, reschedule,
confirm / no-show, check in (which opens or joins a visit), cancel, start the consultation,
complete. The module's public API for other modules is :func:`get_appointment`,
:func:`appointments_by_ids`, :func:`start_consultation`, :func:`complete_appointment` and
:func:`appointments_of_patient`; they return schemas, never ORM rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.core.auth import Principal
from hms.core.errors import Forbidden, PreconditionFailed
from hms.core.pagination import Page, PageParams
from hms.core.permissions import Perm, Role
from hms.core.sorting import parse_sort
from hms.db.base import utcnow
from hms.identity import service as identity_service
from hms.organization import service as organization_service
from hms.patients import service as patients_service
from hms.scheduling.errors import (
    AppointmentInPast,
    AppointmentNotCheckedIn,
    AppointmentNotEditable,
    AppointmentNotFound,
    AppointmentOverlap,
    InvalidStatusTransition,
    NotAppointmentDoctor,
)
from hms.scheduling.models import Appointment
from hms.scheduling.repository import AppointmentFilters, AppointmentRepository
from hms.scheduling.schemas import (
    AppointmentCreate,
    AppointmentDetails,
    AppointmentRead,
    AppointmentSort,
    AppointmentStatus,
    AppointmentType,
    AppointmentUpdate,
    DepartmentBrief,
    DoctorBrief,
    PatientBrief,
    brief,
)

S = AppointmentStatus

#: The status machine (seed 004 section 7 + DOMAIN.md): completed, cancelled and no_show
#: are final.
TRANSITIONS: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    S.SCHEDULED: frozenset({S.CONFIRMED, S.CHECKED_IN, S.CANCELLED, S.NO_SHOW}),
    S.CONFIRMED: frozenset({S.CHECKED_IN, S.CANCELLED, S.NO_SHOW}),
    S.CHECKED_IN: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
}
#: Statuses whose time, doctor and duration may still change (nothing has happened yet).
RESCHEDULABLE = frozenset({S.SCHEDULED, S.CONFIRMED})
#: The PostgreSQL exclusion constraint of migration 0010 (doctor, time range overlap).
OVERLAP_CONSTRAINT = "ex_appointments_doctor_no_overlap"
_SNAPSHOT_FIELDS = (
    "doctor_id", "department_id", "appointment_date", "appointment_time", "duration_minutes",
    "appointment_type", "status", "reason", "notes", "cancelled_reason", "visit_id",
)


def now() -> datetime:
    """The current time (UTC, aware). Tests move the clock by patching this function."""
    return utcnow()


def _snapshot(a: Appointment) -> dict[str, object]:
    # time is not JSON-able by the audit writer: store it as ISO text.
    return {k: (v.isoformat() if isinstance(v, time) else v)
            for k in _SNAPSHOT_FIELDS for v in (getattr(a, k),)}


def interval(appointment_date: date, appointment_time: time, duration_minutes: int
             ) -> tuple[datetime, datetime]:
    """``(starts_at, ends_at)`` of an appointment: date and time are UTC wall-clock."""
    starts_at = datetime.combine(appointment_date, appointment_time.replace(tzinfo=None),
                                 tzinfo=UTC)
    return starts_at, starts_at + timedelta(minutes=duration_minutes)


def _field_error(field: str, message: str, type_: str) -> list[dict[str, Any]]:
    return [{"field": field, "in": "body", "message": message, "type": type_}]


def _check_not_past(starts_at: datetime) -> None:
    if starts_at < now():
        raise AppointmentInPast(
            "Appointment date and time cannot be in the past (seed 004 sections 11-12; "
            "compared in UTC)",
            errors=_field_error("appointment_date", "date and time are in the past",
                                "appointment_in_past"))


async def _check_overlap(session: AsyncSession, doctor_id: uuid.UUID, starts_at: datetime,
                         ends_at: datetime, exclude_id: uuid.UUID | None = None) -> None:
    repo = AppointmentRepository(session)
    # Bookings of one doctor queue here (PostgreSQL); the check below then sees every
    # committed booking, and the exclusion constraint stays as the database's backstop.
    await repo.lock_doctor_schedule(doctor_id)
    clash = await repo.overlapping(doctor_id, starts_at, ends_at, exclude_id=exclude_id)
    if clash is not None:
        raise _overlap(clash.id)


def _overlap(existing_id: uuid.UUID | None) -> AppointmentOverlap:
    return AppointmentOverlap(
        "No double-booking: the doctor already has an appointment overlapping this time "
        "(seed 004 section 11.2)",
        extra={"existing_appointment_id": str(existing_id)} if existing_id else None)


async def _require_doctor(session: AsyncSession, doctor_id: uuid.UUID) -> Any:
    return await identity_service.require_active_doctor(session, doctor_id, field="doctor_id")


async def _flush_booking(session: AsyncSession, action: Any) -> None:
    """Run ``action`` (add + flush) in a savepoint; the PostgreSQL exclusion constraint's
    violation (a concurrent booking that won the race) becomes a 409."""
    try:
        async with session.begin_nested():
            await action()
    except IntegrityError as exc:
        if OVERLAP_CONSTRAINT in str(exc.orig) or "23P01" in str(
                getattr(exc.orig, "sqlstate", "") or getattr(exc.orig, "pgcode", "")):
            raise _overlap(None) from exc
        raise


def _read(a: Appointment) -> AppointmentRead:
    return AppointmentRead.model_validate(a)


async def _get_row(session: AsyncSession, appointment_id: uuid.UUID, *,
                   for_update: bool = False) -> Appointment:
    row = await AppointmentRepository(session).get(appointment_id, for_update=for_update)
    if row is None:
        raise AppointmentNotFound()
    return row


# -- the contract other modules call ---------------------------------------------------------


async def get_appointment(session: AsyncSession, appointment_id: uuid.UUID) -> AppointmentRead:
    """An appointment by id, for other modules (the caller audits its own read).

    Raises:
        AppointmentNotFound (404): no such appointment.
    """
    return _read(await _get_row(session, appointment_id))


async def appointments_by_ids(session: AsyncSession, ids: Iterable[uuid.UUID | None]
                              ) -> dict[uuid.UUID, AppointmentRead]:
    """The appointments of ``ids`` (None and unknown ids skipped), in one query."""
    rows = await AppointmentRepository(session).by_ids(i for i in ids if i is not None)
    return {r.id: _read(r) for r in rows}


async def appointments_of_patient(session: AsyncSession, patient_id: uuid.UUID, *,
                                  limit: int = 50) -> list[AppointmentRead]:
    """The patient's appointments, newest first (by start time), at most ``limit``. Not
    audited: the caller audits the read it serves."""
    rows = await AppointmentRepository(session).for_patient(patient_id, limit=limit)
    return [_read(r) for r in rows]


def _move(row: Appointment, target: AppointmentStatus) -> None:
    current = AppointmentStatus(row.status)
    if target not in TRANSITIONS[current]:
        raise InvalidStatusTransition(
            f"An appointment cannot move from {current.value} to {target.value}",
            extra={"from": current.value, "to": target.value})
    row.status = target.value


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed(
            "The appointment was changed by another request; reload and retry") from exc


async def start_consultation(session: AsyncSession, actor: Principal,
                             appointment_id: uuid.UUID) -> AppointmentRead:
    """Move a checked-in appointment to ``in_progress`` (the doctor starts the
    consultation; called by the clinical module in the consultation's transaction).

    Sets ``consultation_started_at`` (UTC). Audited as ``status_change``.

    Raises:
        AppointmentNotFound (404): no such appointment.
        AppointmentNotCheckedIn (422, ``appointment_not_checked_in``): the appointment is
            not ``checked_in``. Source: seed 004 section 11.3.
    """
    row = await _get_row(session, appointment_id, for_update=True)
    if row.status != S.CHECKED_IN:
        raise AppointmentNotCheckedIn(
            "A consultation can only start from an appointment with status checked_in "
            f"(seed 004 section 11.3); this one is {row.status}",
            errors=_field_error("appointment_id", f"appointment is {row.status}",
                                "appointment_not_checked_in"))
    before = _snapshot(row)
    _move(row, S.IN_PROGRESS)
    row.consultation_started_at = utcnow()
    await _flush(session)
    await audit.record(session, AuditAction.STATUS_CHANGE, "appointment", row.id,
                       patient_id=row.patient_id, changes=audit.diff(before, _snapshot(row)))
    return _read(row)


def _require_own_appointment(actor: Principal, row: Appointment) -> None:
    # A physician completes only the appointments they saw; administrators may complete any.
    if actor.role == Role.PHYSICIAN and row.doctor_id != actor.user_id:
        raise NotAppointmentDoctor("Only the appointment's doctor can complete it")


async def complete_appointment(session: AsyncSession, actor: Principal,
                               appointment_id: uuid.UUID, *, if_in_progress: bool = False,
                               ) -> AppointmentRead:
    """Mark an ``in_progress`` appointment ``completed`` (sets ``completed_at``).

    Audited as ``complete``. Called by ``POST /appointments/{id}/complete`` and by the
    clinical module when a consultation completes (same transaction).

    Args:
        if_in_progress: leave an appointment that is not ``in_progress`` as it is (and
            return it) instead of refusing: the consultation's completion, whose
            appointment may have been completed on its own route already.

    Raises:
        AppointmentNotFound (404): no such appointment.
        NotAppointmentDoctor (403): a physician who is not the appointment's doctor.
        InvalidStatusTransition (409, ``invalid_status_transition``): not ``in_progress``
            (unless ``if_in_progress``).
    """
    row = await _get_row(session, appointment_id, for_update=True)
    if if_in_progress and row.status != S.IN_PROGRESS.value:
        return _read(row)
    _require_own_appointment(actor, row)
    before = _snapshot(row)
    _move(row, S.COMPLETED)
    row.completed_at = utcnow()
    await _flush(session)
    await audit.record(session, AuditAction.COMPLETE, "appointment", row.id,
                       patient_id=row.patient_id, changes=audit.diff(before, _snapshot(row)))
    return _read(row)


# -- HTTP use cases --------------------------------------------------------------------------


async def book_appointment(session: AsyncSession, actor: Principal, data: AppointmentCreate
                           ) -> AppointmentRead:
    """Book an appointment (status ``scheduled``, or ``confirmed`` when asked).

    Args:
        data: ``appointment_date`` + ``appointment_time`` are UTC; ``duration_minutes``
            15..480. ``department_id`` defaults to the doctor's department.

    Returns:
        The new appointment with ``starts_at``/``ends_at``.

    Raises:
        AppointmentInPast (422, ``appointment_in_past``): start before now (UTC).
        DoctorNotActive (422, ``doctor_not_active``): doctor unknown, inactive or not a
            physician (identity.require_active_doctor).
        PatientNotActive (422, ``patient_not_active``): patient unknown, inactive,
            deceased or erased (patients.require_active_patient).
        UnknownDepartment (422): no such department.
        InvalidStatusTransition (409): an initial status other than scheduled/confirmed.
        AppointmentOverlap (409, ``appointment_overlap``): the doctor has an overlapping
            non-cancelled, non-no-show appointment; under concurrency exactly one of the
            overlapping bookings wins (SQLite: BEGIN IMMEDIATE serialises check-then-insert;
            PostgreSQL: exclusion constraint ``ex_appointments_doctor_no_overlap``).

    Source: seed 004 section 10 (Appointment Scheduling Workflow), 11.2, 12.
    """
    status = data.status or S.SCHEDULED
    if status not in (S.SCHEDULED, S.CONFIRMED):
        raise InvalidStatusTransition(
            "A new appointment starts as scheduled (or confirmed)",
            extra={"from": None, "to": status.value})
    starts_at, ends_at = interval(data.appointment_date, data.appointment_time,
                                  data.duration_minutes)
    _check_not_past(starts_at)
    patient = await patients_service.require_active_patient(session, data.patient_id,
                                                            field="patient_id")
    doctor = await _require_doctor(session, data.doctor_id)
    department_id = data.department_id or getattr(doctor, "department_id", None)
    if data.department_id is not None:
        await organization_service.require_department(session, data.department_id,
                                                      field="department_id")
    await _check_overlap(session, doctor.id, starts_at, ends_at)
    row = Appointment(
        patient_id=patient.id, doctor_id=doctor.id, department_id=department_id,
        appointment_date=data.appointment_date,
        appointment_time=data.appointment_time.replace(tzinfo=None),
        duration_minutes=data.duration_minutes, starts_at=starts_at, ends_at=ends_at,
        appointment_type=AppointmentType(data.appointment_type).value, status=status.value,
        reason=data.reason, notes=data.notes, created_by=actor.user_id,
    )

    async def insert() -> None:
        await AppointmentRepository(session).add(row)

    await _flush_booking(session, insert)
    await audit.record(session, AuditAction.CREATE, "appointment", row.id,
                       patient_id=row.patient_id,
                       changes={"after": _snapshot(row)})
    return _read(row)


async def read_appointment(session: AsyncSession, actor: Principal,
                           appointment_id: uuid.UUID) -> AppointmentRead:
    """An appointment, audited as a read of patient data.

    Raises:
        AppointmentNotFound (404): no such appointment.
    """
    appointment = await get_appointment(session, appointment_id)
    await audit.record(session, AuditAction.READ, "appointment", appointment.id,
                       patient_id=appointment.patient_id)
    return appointment


async def appointment_details(session: AsyncSession, actor: Principal,
                              appointment_id: uuid.UUID) -> AppointmentDetails:
    """The appointment with its patient, doctor and department, each fetched with one
    batched call to the owning module (so the statement count is fixed). Audited READ.

    Raises:
        AppointmentNotFound (404): no such appointment.
    """
    appointment = await get_appointment(session, appointment_id)
    patients = await patients_service.patients_by_ids(session, [appointment.patient_id])
    users = await identity_service.users_by_ids(session, [appointment.doctor_id])
    departments = await organization_service.departments_by_ids(
        session, [appointment.department_id])
    await audit.record(session, AuditAction.READ, "appointment", appointment.id,
                       patient_id=appointment.patient_id)
    return AppointmentDetails(
        **appointment.model_dump(),
        patient=brief(PatientBrief, patients.get(appointment.patient_id)),
        doctor=brief(DoctorBrief, users.get(appointment.doctor_id)),
        department=brief(DepartmentBrief, departments.get(appointment.department_id)
                         if appointment.department_id else None),
    )


async def list_appointments(
    session: AsyncSession,
    actor: Principal,
    page: PageParams,
    *,
    statuses: list[AppointmentStatus] | None = None,
    patient_id: uuid.UUID | None = None,
    doctor_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
    appointment_types: list[AppointmentType] | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    q: str | None = None,
    sort: str | None = None,
) -> Page[AppointmentRead]:
    """A page of appointments (default order: earliest start first). Each returned
    appointment is audited as a READ of its patient's data.

    Args:
        date_from, date_to: inclusive range on ``appointment_date``.
        q: case-insensitive text in reason or notes.
        sort: comma list of :class:`AppointmentSort` keys, ``-`` for descending.

    Raises:
        ValidationFailed (422): unknown sort key.
    """
    order = parse_sort(sort, AppointmentSort, [("starts_at", False)])
    filters = AppointmentFilters(
        statuses=tuple(AppointmentStatus(s).value for s in statuses or ()),
        patient_id=patient_id, doctor_id=doctor_id, department_id=department_id,
        appointment_types=tuple(AppointmentType(t).value for t in appointment_types or ()),
        date_from=date_from, date_to=date_to, q=q or None,
    )
    rows, total = await AppointmentRepository(session).page(
        filters, offset=page.offset, limit=page.page_size, order=order)
    await audit.record_reads(session, "appointment", ((r.id, r.patient_id) for r in rows))
    return Page[AppointmentRead](items=[_read(r) for r in rows], total=total,
                                 page=page.page, page_size=page.page_size)


async def _do_check_in(session: AsyncSession, actor: Principal, row: Appointment) -> None:
    """Move ``row`` to checked_in and open (or join) the patient's visit."""
    from hms.visits import service as visits_service
    from hms.visits.schemas import VisitCreate

    _move(row, S.CHECKED_IN)
    moment = utcnow()
    today = moment.date()
    visit_id = None
    for visit in await visits_service.list_for_patient(session, row.patient_id):
        if (visit.status in ("open", "in_progress")
                and visit.attending_physician_id == row.doctor_id
                and visit.started_at.astimezone(UTC).date() == today):
            visit_id = visit.id
            break
    if visit_id is None:
        department_name = None
        if row.department_id is not None:
            department_name = (await organization_service.get_department(
                session, row.department_id)).name[:100]
        visit = await visits_service.open_visit(session, actor, VisitCreate(
            patient_id=str(row.patient_id), department=department_name,
            chief_complaint=(row.reason or None), attending_physician_id=row.doctor_id))
        visit_id = visit.id
    row.visit_id = visit_id
    row.checked_in_at = moment


async def check_in(session: AsyncSession, actor: Principal, appointment_id: uuid.UUID
                   ) -> AppointmentRead:
    """Check the patient in: scheduled/confirmed -> checked_in, ``checked_in_at`` now, and
    the visit around the consultation opened (visits.open_visit with the patient, the
    department's name, the doctor as attending physician, the reason as chief complaint)
    or, when the patient already has an open visit today with this doctor, joined.

    Raises:
        AppointmentNotFound (404): no such appointment.
        InvalidStatusTransition (409): not scheduled or confirmed.
        PatientNotEligible (422): the patient was deactivated or died since booking.

    Source: seed 004 section 10 (Patient Check-In Workflow); DOMAIN.md (check-in opens a
    Visit).
    """
    row = await _get_row(session, appointment_id, for_update=True)
    before = _snapshot(row)
    await _do_check_in(session, actor, row)
    await _flush(session)
    await audit.record(session, AuditAction.CHECK_IN, "appointment", row.id,
                       patient_id=row.patient_id, changes=audit.diff(before, _snapshot(row)))
    return _read(row)


async def cancel_appointment(session: AsyncSession, actor: Principal,
                             appointment_id: uuid.UUID, reason: str | None = None
                             ) -> AppointmentRead:
    """Cancel a scheduled, confirmed or checked-in appointment (sets ``cancelled_at`` and
    ``cancelled_reason``); its time no longer blocks the doctor. Audited ``cancel``.

    Raises:
        AppointmentNotFound (404): no such appointment.
        InvalidStatusTransition (409): in progress or final.
    """
    row = await _get_row(session, appointment_id, for_update=True)
    before = _snapshot(row)
    _move(row, S.CANCELLED)
    row.cancelled_at = utcnow()
    if reason:
        row.cancelled_reason = reason
    await _flush(session)
    await audit.record(session, AuditAction.CANCEL, "appointment", row.id,
                       patient_id=row.patient_id, changes=audit.diff(before, _snapshot(row)))
    return _read(row)


async def delete_appointment(session: AsyncSession, actor: Principal,
                             appointment_id: uuid.UUID) -> AppointmentRead:
    """``DELETE /appointments/{id}``: a soft delete. A scheduled or confirmed appointment
    is cancelled (the row stays, audited ``cancel``); from checked_in on the appointment is
    part of the clinical record and is refused.

    Raises:
        AppointmentNotFound (404): no such appointment.
        InvalidStatusTransition (409): checked in or later, or already final.

    Source: seed 004 section 14.7 (soft delete).
    """
    row = await _get_row(session, appointment_id, for_update=True)
    if row.status not in RESCHEDULABLE:
        raise InvalidStatusTransition(
            f"Only scheduled or confirmed appointments can be deleted (cancelled); this one "
            f"is {row.status}. Appointments are never hard-deleted (seed 004 section 14.7)",
            extra={"from": row.status, "to": S.CANCELLED.value})
    return await cancel_appointment(session, actor, appointment_id, reason=None)


async def update_appointment(
    session: AsyncSession, actor: Principal, appointment_id: uuid.UUID,
    data: AppointmentUpdate, if_match: int | None = None,
) -> AppointmentRead:
    """Reschedule or edit an appointment (partial) and/or move its status.

    Time, duration, doctor and department may change only while scheduled or confirmed,
    and are re-checked (not in the past, active doctor, department exists, no overlap).
    ``status`` moves along the status machine: ``confirmed``, ``no_show``, ``cancelled``
    and ``checked_in`` (which performs the check-in) are accepted; ``in_progress`` and
    ``completed`` belong to the doctor (consultation, ``/complete``). Audited ``update``
    with old and new values.

    Raises:
        AppointmentNotFound (404): no such appointment.
        PreconditionFailed (412): ``version`` / ``If-Match`` given and stale.
        AppointmentNotEditable (409, ``appointment_not_editable``): rescheduling once
            checked in or later.
        InvalidStatusTransition (409): a status move the machine forbids.
        AppointmentInPast (422), DoctorNotActive (422), UnknownDepartment (422),
        AppointmentOverlap (409): as for booking.
    """
    expected = data.version if data.version is not None else if_match
    fields = data.model_dump(exclude_unset=True, exclude={"version"})
    row = await _get_row(session, appointment_id, for_update=True)
    if expected is not None and row.version != expected:
        raise PreconditionFailed(
            f"Appointment changed since version {expected}; current version is {row.version}")
    before = _snapshot(row)
    current = AppointmentStatus(row.status)
    schedule_keys = {"doctor_id", "department_id", "appointment_date", "appointment_time",
                     "duration_minutes"}
    changing = {k for k in schedule_keys & fields.keys()
                if fields[k] is not None and fields[k] != getattr(row, k)}
    if changing and current not in RESCHEDULABLE:
        raise AppointmentNotEditable(
            f"Only scheduled or confirmed appointments can be rescheduled; this one is "
            f"{current.value}")
    if changing:
        doctor_id = fields.get("doctor_id") or row.doctor_id
        new_date = fields.get("appointment_date") or row.appointment_date
        new_time = fields.get("appointment_time") or row.appointment_time
        duration = fields.get("duration_minutes") or row.duration_minutes
        starts_at, ends_at = interval(new_date, new_time, duration)
        if {"appointment_date", "appointment_time"} & changing:
            _check_not_past(starts_at)
        if "doctor_id" in changing:
            await _require_doctor(session, doctor_id)
        if "department_id" in changing:
            await organization_service.require_department(session, fields["department_id"])
        await _check_overlap(session, doctor_id, starts_at, ends_at, exclude_id=row.id)
        row.doctor_id = doctor_id
        row.appointment_date = new_date
        row.appointment_time = new_time.replace(tzinfo=None)
        row.duration_minutes = duration
        row.starts_at, row.ends_at = starts_at, ends_at
        if "department_id" in changing:
            row.department_id = fields["department_id"]
    for key in ("reason", "notes", "cancelled_reason"):
        if key in fields:
            setattr(row, key, fields[key])
    if fields.get("appointment_type") is not None:
        row.appointment_type = AppointmentType(fields["appointment_type"]).value

    if changing:
        # The new time is written in a savepoint before anything else can autoflush it, so
        # a concurrent booking that won the slot (PostgreSQL exclusion constraint) is a 409.
        async def write() -> None:
            await _flush(session)

        await _flush_booking(session, write)
    target = fields.get("status")
    if target is not None and AppointmentStatus(target) != current:
        target = AppointmentStatus(target)
        if target in (S.IN_PROGRESS, S.COMPLETED):
            raise InvalidStatusTransition(
                f"Status {target.value} is set by the doctor (consultation start, "
                "POST /appointments/{id}/complete), not by an update",
                extra={"from": current.value, "to": target.value})
        if target == S.CHECKED_IN:
            if not actor.can(Perm.APPOINTMENT_CHECK_IN):
                raise Forbidden("Checking in needs appointment:check_in")
            await _do_check_in(session, actor, row)
        else:
            _move(row, target)
            if target == S.CANCELLED:
                row.cancelled_at = utcnow()

    await _flush(session)
    await audit.record(session, AuditAction.UPDATE, "appointment", row.id,
                       patient_id=row.patient_id, changes=audit.diff(before, _snapshot(row)))
    return _read(row)
