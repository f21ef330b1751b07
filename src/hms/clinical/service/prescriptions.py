"""Seed 004 prescription use cases: allergy-checked orders, 30-day validity, current
medications, soft deletion."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.clinical import clock
from hms.clinical.errors import (
    ConsultationLocked,
    PrescriptionExpired,
    RecordMismatch,
)
from hms.clinical.models import Prescription
from hms.clinical.repository import (
    ConsultationRepository,
    PrescriptionFilters,
)
from hms.clinical.schemas import (
    PRESCRIPTION_VALIDITY_DAYS,
    AllergyWarning,
    PrescriptionCreate,
    PrescriptionItem,
    PrescriptionRead,
    PrescriptionSort,
    PrescriptionUpdate,
)
from hms.clinical.service._shared import (
    _PRESCRIPTION_SNAPSHOT,
    _add_prescription,
    _allergy_warnings,
    _field_error,
    _is_locked,
    _refuse_allergies,
    _snap,
)
from hms.core.auth import Principal
from hms.core.errors import NotFound, ValidationFailed
from hms.core.pagination import Page, PageParams
from hms.core.sorting import parse_sort
from hms.patients import service as patients_service


async def create_prescription(session: AsyncSession, actor: Principal,
                              data: PrescriptionCreate) -> PrescriptionRead:
    """Prescribe one medication within a consultation (doctors only, seed 004 11.4).

    The prescriber is the caller. The medication is checked against the patient's recorded
    allergies (seed 004 10/11.4).

    Raises:
        ValidationFailed (422): unknown consultation.
        RecordMismatch (422): ``patient_id``/``doctor_id`` differ from the consultation's
            patient / the caller.
        ConsultationLocked (409): the consultation was completed more than 24 h ago.
        AllergyConflict (422, ``allergy_conflict``) unless ``allergy_override``.
        PatientNotActive (422); DateInFuture (422): ``prescribed_date`` after today.
    """
    consultation = await ConsultationRepository(session).get(data.consultation_id)
    if consultation is None:
        raise ValidationFailed("Unknown consultation", errors=_field_error(
            "consultation_id", "no such consultation", "not_found"))
    if data.patient_id is not None and data.patient_id != consultation.patient_id:
        raise RecordMismatch("patient_id is not the consultation's patient",
                             errors=_field_error("patient_id", "not the consultation's "
                                                 "patient", "record_mismatch"))
    if data.doctor_id is not None and data.doctor_id != actor.user_id:
        raise RecordMismatch("A doctor prescribes in their own name",
                             errors=_field_error("doctor_id", "must be the caller",
                                                 "record_mismatch"))
    if _is_locked(consultation):
        raise ConsultationLocked("The consultation was completed more than 24 hours ago "
                                 "(rule consultation_locked)")
    await patients_service.require_active_patient(session, consultation.patient_id)
    allergies = await patients_service.allergies_of(session, consultation.patient_id)
    warnings = _allergy_warnings(data.medication_name, allergies)
    if not data.allergy_override:
        _refuse_allergies(warnings)
    item = PrescriptionItem.model_validate(data.model_dump(include=set(
        PrescriptionItem.model_fields)))
    return await _add_prescription(session, actor, consultation, item,
                                   is_active=data.is_active, override=data.allergy_override,
                                   warnings=warnings)


async def _prescription(session: AsyncSession, prescription_id: uuid.UUID) -> Prescription:
    row = await ConsultationRepository(session).get_prescription(prescription_id)
    if row is None:
        raise NotFound("Prescription not found")
    return row


async def read_prescription(session: AsyncSession, actor: Principal,
                            prescription_id: uuid.UUID) -> PrescriptionRead:
    """A prescription (with ``valid_until``/``is_valid``), audited as a read.

    Raises:
        NotFound (404).
    """
    row = await _prescription(session, prescription_id)
    await audit.record(session, AuditAction.READ, "prescription", row.id,
                       patient_id=row.patient_id)
    return PrescriptionRead.model_validate(row)


async def list_prescriptions(
    session: AsyncSession, actor: Principal, page: PageParams, *,
    patient_id: uuid.UUID | None = None, consultation_id: uuid.UUID | None = None,
    doctor_id: uuid.UUID | None = None, is_active: bool | None = None,
    active: bool | None = None, date_from: date | None = None, date_to: date | None = None,
    q: str | None = None, sort: str | None = None,
) -> Page[PrescriptionRead]:
    """A page of prescriptions (default newest ``prescribed_date`` first); reads audited.

    Args:
        active: true = the patient's current medications: ``is_active`` and still within
            the 30-day validity today (seed 004 11.4); false = the others.
        is_active: the stored flag only.
        date_from, date_to: inclusive on ``prescribed_date``.
        q: case-insensitive substring of the medication name.

    Raises:
        ValidationFailed (422): unknown sort key.
    """
    order = parse_sort(sort, PrescriptionSort, [("prescribed_date", True)])
    repo = ConsultationRepository(session)
    filters = PrescriptionFilters(
        patient_id=patient_id, consultation_id=consultation_id, doctor_id=doctor_id,
        is_active=is_active, valid_on=clock.today() if active is not None else None,
        valid=active is not False, date_from=date_from, date_to=date_to, q=q)
    rows, total = await repo.prescriptions_page(filters, offset=page.offset,
                                                limit=page.page_size, order=order)
    await audit.record_reads(session, "prescription", [(r.id, r.patient_id) for r in rows])
    return Page[PrescriptionRead](items=[PrescriptionRead.model_validate(r) for r in rows],
                                  total=total, page=page.page, page_size=page.page_size)


async def current_medications(session: AsyncSession, patient_id: uuid.UUID
                              ) -> list[PrescriptionRead]:
    """The patient's current medications: active prescriptions still within their 30-day
    validity today, newest first (seed 004 11.4). The caller audits."""
    rows, _ = await ConsultationRepository(session).prescriptions_page(
        PrescriptionFilters(patient_id=patient_id, valid_on=clock.today()),
        offset=0, limit=500, order=[("prescribed_date", True)])
    return [PrescriptionRead.model_validate(r) for r in rows]


async def patient_current_medications(session: AsyncSession, actor: Principal,
                                      patient_id: uuid.UUID) -> list[PrescriptionRead]:
    """:func:`current_medications` for the API: the patient must exist; each row's read is
    audited.

    Raises:
        NotFound (404): no such patient.
    """
    await patients_service.get_summary(session, patient_id)
    out = await current_medications(session, patient_id)
    await audit.record_reads(session, "prescription", [(p.id, p.patient_id) for p in out])
    return out


async def update_prescription(session: AsyncSession, actor: Principal,
                              prescription_id: uuid.UUID, data: PrescriptionUpdate
                              ) -> PrescriptionRead:
    """Partial update by a doctor (seed 004 11.4 "Only doctors can create and modify
    prescriptions"): edit the order or deactivate it (``is_active: false``). A new
    medication name is allergy-checked; reactivating needs the prescription still valid.

    Raises:
        NotFound (404); AllergyConflict (422) unless ``allergy_override``;
        PrescriptionExpired (422, ``prescription_expired``): reactivation after 30 days.
    """
    row = await _prescription(session, prescription_id)
    fields = data.model_dump(exclude_unset=True, exclude={"allergy_override"})
    for key in ("medication_name", "dosage", "frequency", "duration", "is_active"):
        if key in fields and fields[key] is None:
            fields.pop(key)
    warnings: list[AllergyWarning] = []
    if "medication_name" in fields and fields["medication_name"] != row.medication_name:
        allergies = await patients_service.allergies_of(session, row.patient_id)
        warnings = _allergy_warnings(fields["medication_name"], allergies)
        if not data.allergy_override:
            _refuse_allergies(warnings)
        if warnings:
            fields["allergy_override"] = True
    if fields.get("is_active") and not row.is_active:
        valid_until = row.prescribed_date + timedelta(days=PRESCRIPTION_VALIDITY_DAYS)
        if clock.today() > valid_until:
            raise PrescriptionExpired(
                "The prescription is past its 30-day validity and cannot be reactivated "
                "(rule prescription_expired, seed 004 11.4); write a new one",
                errors=_field_error("is_active", "prescription expired",
                                    "prescription_expired"))
    before = _snap(row, _PRESCRIPTION_SNAPSHOT)
    for key, value in fields.items():
        setattr(row, key, value)
    await session.flush()
    await audit.record(session, AuditAction.UPDATE, "prescription", row.id,
                       patient_id=row.patient_id,
                       changes=audit.diff(before, _snap(row, _PRESCRIPTION_SNAPSHOT)))
    out = PrescriptionRead.model_validate(row)
    out.warnings = warnings
    return out


async def deactivate_prescription(session: AsyncSession, actor: Principal,
                                  prescription_id: uuid.UUID) -> PrescriptionRead:
    """DELETE: prescriptions are never removed; the row is deactivated
    (``is_active=false``, audited) and stays (seed 004 14.7).

    Raises:
        NotFound (404).
    """
    row = await _prescription(session, prescription_id)
    if row.is_active:
        row.is_active = False
        await session.flush()
        await audit.record(session, AuditAction.DELETE, "prescription", row.id,
                           patient_id=row.patient_id,
                           changes={"before": {"is_active": True},
                                    "after": {"is_active": False}})
    return PrescriptionRead.model_validate(row)
