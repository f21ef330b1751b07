"""Seed 004 ``/vital-signs`` use cases (section 12 ranges, appointment/visit links)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.clinical import clock
from hms.clinical.errors import (
    AppointmentNotActive,
    ClinicalRecordRetention,
    RecordMismatch,
)
from hms.clinical.models import VitalSigns
from hms.clinical.repository import (
    ClinicalRepository,
    VitalsFilters,
    VitalsRepository,
)
from hms.clinical.schemas import (
    VitalSignsCreate,
    VitalSignsRead,
    VitalSignsSort,
    VitalSignsUpdate,
)
from hms.clinical.service._base import (
    _VITAL_FIELDS,
    body_mass_index,
    get_vital_signs,
)
from hms.clinical.service._shared import (
    _IN_CARE,
    _VITALS_SNAPSHOT,
    _appointment,
    _check_not_future,
    _check_pressure,
    _day_start,
    _field_error,
    _snap,
    _visits,
)
from hms.core.auth import Principal
from hms.core.errors import NotFound, ValidationFailed
from hms.core.pagination import Page, PageParams
from hms.core.sorting import parse_sort
from hms.identity import service as identity_service
from hms.patients import service as patients_service


async def create_vital_signs(session: AsyncSession, actor: Principal,
                             data: VitalSignsCreate) -> VitalSignsRead:
    """Record a set of vital signs on the seed 004 route (``POST /vital-signs``).

    The patient comes from ``patient_id``, ``appointment_id`` or ``visit_id`` (they must
    agree). An appointment must be checked in or in progress; its visit is filled in.
    ``recorded_by`` defaults to the caller. BMI (kg/m²) is derived from weight and height.

    Raises:
        ValidationFailed (422): no patient reference, unknown appointment/visit/recorder,
            systolic not above diastolic (seed 004 12); ``errors`` names the field.
        AppointmentNotActive (422, ``appointment_not_in_care``): appointment not checked in.
        RecordMismatch (422): references name different patients or visits.
        PatientNotActive (422, ``patient_not_active``): the patient cannot receive care.
        VisitClosed (409): the named visit is closed.
        DateInFuture (422): ``recorded_at`` in the future.
    """
    _check_pressure(data.blood_pressure_systolic, data.blood_pressure_diastolic)
    _check_not_future(data.recorded_at, "recorded_at")
    patient_id, visit_id = data.patient_id, data.visit_id
    if data.appointment_id is not None:
        appt = await _appointment(session, data.appointment_id)
        if str(appt.status) not in _IN_CARE:
            raise AppointmentNotActive(
                "Vital signs are recorded for a checked-in or in-progress appointment "
                f"(this one is {appt.status})",
                errors=_field_error("appointment_id", "appointment not checked in",
                                    "appointment_not_in_care"))
        if patient_id is not None and patient_id != appt.patient_id:
            raise RecordMismatch("patient_id is not the appointment's patient",
                                 errors=_field_error("patient_id", "not the appointment's "
                                                     "patient", "record_mismatch"))
        if visit_id is not None and appt.visit_id is not None and visit_id != appt.visit_id:
            raise RecordMismatch("visit_id is not the appointment's visit",
                                 errors=_field_error("visit_id", "not the appointment's "
                                                     "visit", "record_mismatch"))
        patient_id, visit_id = appt.patient_id, visit_id or appt.visit_id
    elif visit_id is not None:
        try:
            visit = await _visits().require_open_visit(session, visit_id)
        except NotFound as exc:
            raise ValidationFailed("Unknown visit", errors=_field_error(
                "visit_id", "no such visit", "not_found")) from exc
        if patient_id is not None and patient_id != visit.patient_id:
            raise RecordMismatch("patient_id is not the visit's patient",
                                 errors=_field_error("patient_id", "not the visit's patient",
                                                     "record_mismatch"))
        patient_id = visit.patient_id
    if patient_id is None:
        raise ValidationFailed("Name the patient (patient_id, appointment_id or visit_id)",
                               errors=_field_error("patient_id", "field required", "missing"))
    await patients_service.require_active_patient(session, patient_id)
    recorded_by = data.recorded_by or actor.user_id
    if recorded_by != actor.user_id and recorded_by not in await identity_service.users_by_ids(
            session, [recorded_by]):
        raise ValidationFailed("Unknown recorded_by user", errors=_field_error(
            "recorded_by", "no such user", "not_found"))
    row = VitalSigns(patient_id=patient_id, visit_id=visit_id,
                     appointment_id=data.appointment_id, recorded_by=recorded_by,
                     recorded_at=data.recorded_at or clock.now(), notes=data.notes)
    for name in _VITAL_FIELDS:
        setattr(row, name, getattr(data, name))
    row.bmi = body_mass_index(row.weight_kg, row.height_cm)
    await ClinicalRepository(session).add(row)
    await audit.record(session, AuditAction.CREATE, "vital_signs", row.id,
                       patient_id=patient_id,
                       changes={"after": _snap(row, _VITALS_SNAPSHOT)})
    return VitalSignsRead.model_validate(row)


async def read_vital_signs(session: AsyncSession, actor: Principal,
                           vital_signs_id: uuid.UUID) -> VitalSignsRead:
    """A set of vital signs, audited as a read of patient data.

    Raises:
        NotFound (404): no such row.
    """
    vitals = await get_vital_signs(session, vital_signs_id)
    await audit.record(session, AuditAction.READ, "vital_signs", vitals.id,
                       patient_id=vitals.patient_id)
    return vitals


async def list_vital_signs(
    session: AsyncSession, actor: Principal, page: PageParams, *,
    patient_id: uuid.UUID | None = None, visit_id: uuid.UUID | None = None,
    appointment_id: uuid.UUID | None = None, recorded_by: uuid.UUID | None = None,
    date_from: date | None = None, date_to: date | None = None, sort: str | None = None,
) -> Page[VitalSignsRead]:
    """A page of vital signs (default newest first); each row's read is audited.

    Args:
        date_from, date_to: inclusive UTC dates on ``recorded_at``.
        sort: ``recorded_at``/``created_at``, ``-`` for descending.

    Raises:
        ValidationFailed (422): unknown sort key.
    """
    order = parse_sort(sort, VitalSignsSort, [("recorded_at", True)])
    rows, total = await VitalsRepository(session).page(
        VitalsFilters(patient_id=patient_id, visit_id=visit_id, appointment_id=appointment_id,
                      recorded_by=recorded_by,
                      recorded_from=_day_start(date_from) if date_from else None,
                      recorded_to=_day_start(date_to) + timedelta(days=1) if date_to else None),
        offset=page.offset, limit=page.page_size, order=order)
    await audit.record_reads(session, "vital_signs", [(r.id, r.patient_id) for r in rows])
    return Page[VitalSignsRead](items=[VitalSignsRead.model_validate(r) for r in rows],
                                total=total, page=page.page, page_size=page.page_size)


async def change_vital_signs(session: AsyncSession, actor: Principal,
                             vital_signs_id: uuid.UUID, data: VitalSignsUpdate
                             ) -> VitalSignsRead:
    """Partial update of a set of vital signs (seed 004 ranges; BMI re-derived; old and
    new values audited).

    Raises:
        NotFound (404): no such row.
        ValidationFailed (422): systolic not above diastolic after the change.
        DateInFuture (422): ``recorded_at`` in the future.
    """
    row = await ClinicalRepository(session).get_vitals(vital_signs_id)
    if row is None:
        raise NotFound("Vital signs not found")
    fields = data.model_dump(exclude_unset=True)
    _check_not_future(fields.get("recorded_at"), "recorded_at")
    if "recorded_at" in fields and fields["recorded_at"] is None:
        fields.pop("recorded_at")
    _check_pressure(fields.get("blood_pressure_systolic", row.blood_pressure_systolic),
                    fields.get("blood_pressure_diastolic", row.blood_pressure_diastolic))
    before = _snap(row, _VITALS_SNAPSHOT)
    for key, value in fields.items():
        setattr(row, key, value)
    row.bmi = body_mass_index(row.weight_kg, row.height_cm)
    await session.flush()
    await audit.record(session, AuditAction.UPDATE, "vital_signs", row.id,
                       patient_id=row.patient_id,
                       changes=audit.diff(before, _snap(row, _VITALS_SNAPSHOT)))
    return VitalSignsRead.model_validate(row)


async def delete_vital_signs(session: AsyncSession, actor: Principal,
                             vital_signs_id: uuid.UUID) -> None:
    """Refuse: vital signs are clinical records, never deleted (seed 004 14.7).

    Raises:
        NotFound (404): no such row.
        ClinicalRecordRetention (409, ``clinical_record_retention``): always otherwise.
    """
    await get_vital_signs(session, vital_signs_id)
    raise ClinicalRecordRetention(
        "Vital signs are clinical records and are never deleted (rule "
        "clinical_record_retention, seed 004 14.7); correct them with PUT")
