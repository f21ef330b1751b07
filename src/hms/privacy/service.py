"""Patient rights: data export, legal hold and erasure requests.

* Export (seed 003 NFR-SEC-002 "support data export requests (GDPR)", 8.2 rights to access
  and portability): everything hms holds about a patient, as hms JSON or as a FHIR R4
  Bundle, plus the accounting of who accessed the record (from the audit trail).
* Erasure (seed 003 8.2 "right to erasure"), decided when requested: refused while the
  records are under legal hold (NFR-COMP-002 "support legal hold on records") or within the
  retention period, ``HMS_RECORD_RETENTION_YEARS`` (default 7) after the patient's last
  visit (NFR-COMP-002 "retain medical records for minimum 7 years"). Otherwise the patient
  is de-identified (``patients.service.erase_patient``) and the document files are deleted
  (``documents.service.delete_files_for_patient``); the clinical rows and the audit trail
  stay (seed 004 "medical records never deleted", "audit logs retained indefinitely").

Every call is audited.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.clinical import service as clinical_service
from hms.core.auth import Principal
from hms.core.pagination import PageParams
from hms.db.base import utcnow
from hms.documents import service as documents_service
from hms.fhir import service as fhir_service
from hms.forms import service as forms_service
from hms.patients import service as patients_service
from hms.patients.schemas import PatientSummary
from hms.privacy.errors import ErasureRequestNotFound, PatientAlreadyErased
from hms.privacy.models import ErasureRequest, LegalHold
from hms.privacy.repository import PrivacyRepository
from hms.privacy.schemas import (
    Disclosure,
    ErasureOutcome,
    ErasureRequestCreate,
    ErasureRequestPage,
    ErasureRequestRead,
    ExportFormat,
    LegalHoldRead,
    LegalHoldUpdate,
    PatientExport,
    VisitExport,
)
from hms.visits import service as visits_service
from hms.visits.schemas import VisitRead

#: At most this many disclosures (newest) are listed in an export.
MAX_DISCLOSURES = 10_000


# -- export ---------------------------------------------------------------------------------


async def export_patient(
    session: AsyncSession, actor: Principal, patient_ref: str, fmt: ExportFormat
) -> PatientExport | dict[str, Any]:
    """All of a patient's data, in a constant number of queries.

    Args:
        patient_ref: UUID, patient number or national ID.
        fmt: ``json`` (:class:`PatientExport`) or ``fhir`` (a FHIR R4 Bundle of type
            collection: Patient, Encounter, vital-signs Observations, Condition,
            DocumentReference; see :mod:`hms.fhir.export`).

    Returns:
        The :class:`PatientExport`, or the Bundle as JSON data.

    Raises:
        PatientNotFound (404): no patient has that reference.

    Identifiers are shown as the actor may see them (``patient:read_identifiers``). Audited
    as the patient READ plus one ``export`` event with the format and the counts.
    """
    patient = await patients_service.get_patient(
        session, patient_ref, access=patients_service.identifier_access(actor))
    visits = list(reversed(await visits_service.list_for_patient(session, patient.id)))
    vitals, diagnoses = await clinical_service.clinical_record_of_patient(session, patient.id)
    documents = await documents_service.documents_of_patient(session, patient.id)
    now = utcnow()
    counts = {"format": fmt.value, "visits": len(visits), "vital_signs": len(vitals),
              "diagnoses": len(diagnoses), "documents": len(documents)}
    if fmt is ExportFormat.FHIR:
        await audit.record(session, AuditAction.EXPORT, "patient", patient.id,
                           patient_id=patient.id, changes=counts)
        return fhir_service.patient_bundle(patient, visits, vitals, diagnoses, documents,
                                           timestamp=now)

    nursing, radiology = await forms_service.forms_of_patient(session, patient.id)
    repo = PrivacyRepository(session)
    hold = await repo.hold(patient.id)
    requests = await repo.requests_of_patient(patient.id)
    await audit.record(session, AuditAction.EXPORT, "patient", patient.id,
                       patient_id=patient.id, changes=counts)
    seen = await audit.disclosures(session, patient.id, limit=MAX_DISCLOSURES + 1)
    by_visit: dict[uuid.UUID | None, dict[str, list[Any]]] = {}

    def bucket(visit_id: uuid.UUID | None) -> dict[str, list[Any]]:
        return by_visit.setdefault(visit_id, {"vitals": [], "diagnoses": [], "documents": [],
                                              "nursing": [], "radiology": []})

    for v in vitals:
        bucket(v.visit_id)["vitals"].append(v)
    for d in diagnoses:
        bucket(d.visit_id)["diagnoses"].append(d)
    for doc in documents:
        bucket(doc.visit_id)["documents"].append(doc)
    for n in nursing:
        bucket(n.visit_id)["nursing"].append(n)
    for r in radiology:
        bucket(r.visit_id)["radiology"].append(r)

    def visit_export(v: VisitRead) -> VisitExport:
        b = bucket(v.id)
        forms = sorted([n.submission for n in b["nursing"]] +
                       [r.submission for r in b["radiology"]], key=lambda s: s.submitted_at)
        return VisitExport(**v.model_dump(), forms=forms,
                           nursing_assessment=b["nursing"][0] if b["nursing"] else None,
                           radiology_assessments=b["radiology"], vital_signs=b["vitals"],
                           diagnoses=b["diagnoses"], documents=b["documents"])

    return PatientExport(
        generated_at=now,
        generated_by=actor.user_id,
        patient=patient,
        visits=[visit_export(v) for v in visits],
        vital_signs_without_visit=bucket(None)["vitals"],
        diagnoses_without_visit=bucket(None)["diagnoses"],
        legal_hold=LegalHoldRead.model_validate(hold) if hold else None,
        erasure_requests=[ErasureRequestRead.model_validate(r) for r in requests],
        disclosures=[Disclosure.model_validate(e) for e in seen[:MAX_DISCLOSURES]],
        disclosures_truncated=len(seen) > MAX_DISCLOSURES,
    )


# -- legal hold -----------------------------------------------------------------------------


def _hold_read(patient_id: uuid.UUID, hold: LegalHold | None) -> LegalHoldRead:
    if hold is None:
        return LegalHoldRead(patient_id=patient_id, active=False, reason=None, set_by=None,
                             set_at=None)
    return LegalHoldRead.model_validate(hold)


async def get_legal_hold(session: AsyncSession, patient_ref: str) -> LegalHoldRead:
    """A patient's legal hold state (inactive when never held); audited READ.

    Raises:
        PatientNotFound (404): no patient has that reference.
    """
    patient = await patients_service.resolve(session, patient_ref)
    hold = await PrivacyRepository(session).hold(patient.id)
    await audit.record(session, AuditAction.READ, "legal_hold", patient.id,
                       patient_id=patient.id)
    return _hold_read(patient.id, hold)


async def set_legal_hold(
    session: AsyncSession, actor: Principal, patient_ref: str, data: LegalHoldUpdate
) -> LegalHoldRead:
    """Place or lift a legal hold on a patient's records. While active, erasure requests are
    refused (``denied_legal_hold``). Audited UPDATE with the active flag before and after
    (the reason stays in the hold row, not in the trail).

    Raises:
        PatientNotFound (404): no patient has that reference.
    """
    patient = await patients_service.resolve(session, patient_ref)
    repo = PrivacyRepository(session)
    await repo.lock_patient(patient.id)
    hold = await repo.hold(patient.id)
    before = hold.active if hold else False
    if hold is None:
        hold = LegalHold(patient_id=patient.id)
        session.add(hold)
    hold.active = data.active
    hold.reason = data.reason
    hold.set_by = actor.user_id
    hold.set_at = utcnow()
    await session.flush()
    await audit.record(session, AuditAction.UPDATE, "legal_hold", patient.id,
                       patient_id=patient.id,
                       changes={"before": {"active": before}, "after": {"active": data.active}})
    return _hold_read(patient.id, hold)


# -- erasure --------------------------------------------------------------------------------


def add_years(day: date, years: int) -> date:
    """``day`` plus whole calendar years; 29 February becomes 1 March in a common year (the
    later day, so a retention period is never cut short)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def last_visit_at(visits: list[VisitRead]) -> datetime | None:
    """When the patient was last seen: the latest visit end (or start, for a visit without
    an end), UTC; None without visits."""
    times = [v.ended_at or v.started_at for v in visits]
    return max(times) if times else None


async def request_erasure(
    session: AsyncSession,
    actor: Principal,
    patient_ref: str,
    data: ErasureRequestCreate,
    *,
    retention_years: int,
    documents_dir: Path,
    today: date | None = None,
) -> ErasureRequestRead:
    """Record an erasure request and decide it at once.

    Decision, in order: an active legal hold -> ``denied_legal_hold``; today before
    ``earliest_erasure_date`` (the last visit's day + ``retention_years``) ->
    ``denied_retention``; otherwise ``completed``: the patient is de-identified and the
    document files are deleted (after commit), in this transaction. A patient without
    visits has no medical record to retain.

    Args:
        patient_ref: UUID, patient number or national ID.
        data: reason and whether the patient asked.
        retention_years: ``settings.record_retention_years``.
        documents_dir: ``settings.documents_dir``.
        today: the decision day (UTC today by default).

    Returns:
        The stored request with its outcome.

    Raises:
        PatientNotFound (404): no patient has that reference.
        PatientAlreadyErased (409): the patient was erased already.

    Audited: a CREATE of the request (outcome, dates; not the reason text) and, when
    completed, the patient's ``erase`` event.
    """
    patient: PatientSummary = await patients_service.resolve(session, patient_ref)
    repo = PrivacyRepository(session)
    await repo.lock_patient(patient.id)
    if patient.erased_at is not None:
        raise PatientAlreadyErased("This patient's data was erased already")
    hold = await repo.hold(patient.id)
    last = last_visit_at(await visits_service.list_for_patient(session, patient.id))
    earliest = add_years(last.date(), retention_years) if last is not None else None
    today = today or utcnow().date()
    if hold is not None and hold.active:
        outcome = ErasureOutcome.DENIED_LEGAL_HOLD
    elif earliest is not None and today < earliest:
        outcome = ErasureOutcome.DENIED_RETENTION
    else:
        outcome = ErasureOutcome.COMPLETED
    erased_documents = 0
    if outcome is ErasureOutcome.COMPLETED:
        await patients_service.erase_patient(session, patient.id)
        erased_documents = await documents_service.delete_files_for_patient(
            session, patient.id, documents_dir)
    row = ErasureRequest(
        patient_id=patient.id, reason=data.reason,
        requested_by_patient=data.requested_by_patient, requested_by=actor.user_id,
        requested_at=utcnow(), outcome=outcome.value, last_visit_at=last,
        earliest_erasure_date=earliest, retention_years=retention_years,
        documents_erased=erased_documents)
    await repo.add(row)
    await audit.record(session, AuditAction.CREATE, "erasure_request", row.id,
                       patient_id=patient.id, changes={
                           "outcome": outcome.value,
                           "earliest_erasure_date": earliest,
                           "requested_by_patient": data.requested_by_patient,
                           "documents_erased": erased_documents})
    return ErasureRequestRead.model_validate(row)


async def list_erasure_requests(
    session: AsyncSession,
    page: PageParams,
    *,
    patient_ref: str | None = None,
    outcome: ErasureOutcome | None = None,
) -> ErasureRequestPage:
    """Erasure requests, newest first, optionally of one patient and/or one outcome; audited
    as one SEARCH (filter names and the returned request ids).

    Raises:
        PatientNotFound (404): ``patient_ref`` matches no patient.
    """
    patient_id = None
    if patient_ref:
        patient_id = (await patients_service.resolve(session, patient_ref)).id
    rows, total = await PrivacyRepository(session).page_requests(
        patient_id=patient_id, outcome=outcome.value if outcome else None,
        offset=page.offset, limit=page.page_size)
    items = [ErasureRequestRead.model_validate(r) for r in rows]
    used = [name for name, value in (("patient", patient_ref), ("outcome", outcome)) if value]
    await audit.record(session, AuditAction.SEARCH, "erasure_request", None, changes={
        "criteria": used, "total": total, "ids": [str(i.id) for i in items]})
    return ErasureRequestPage(items=items, total=total, page=page.page,
                              page_size=page.page_size)


async def get_erasure_request(session: AsyncSession, request_id: uuid.UUID
                              ) -> ErasureRequestRead:
    """One erasure request; audited READ.

    Raises:
        ErasureRequestNotFound (404): no such request.
    """
    row = await PrivacyRepository(session).request(request_id)
    if row is None:
        raise ErasureRequestNotFound("Erasure request not found")
    await audit.record(session, AuditAction.READ, "erasure_request", row.id,
                       patient_id=row.patient_id)
    return ErasureRequestRead.model_validate(row)
