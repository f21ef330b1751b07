"""Assembled patient views: the history (seed 000 ``GET /patients/{patient_ssn}/history``,
FR-020) and the details (seed 004 ``GET /patients/{id}/details``); the ``/medical-records``
routes call ``hms.patients.service``, which owns the table."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.clinical import service as clinical_service
from hms.core.auth import Principal
from hms.core.permissions import Perm
from hms.core.scoping import RowFilter
from hms.documents import service as documents_service
from hms.forms import service as forms_service
from hms.organization import service as organization_service
from hms.patients import service as patients_service
from hms.records.schemas import PatientDetails, PatientHistory, VisitHistory
from hms.visits import service as visits_service


async def patient_history(session: AsyncSession, actor: Principal, patient_ref: str,
                          *, limit: int = 50) -> PatientHistory:
    """A patient's visits, newest first, each with forms, diagnoses, vital signs and
    documents; a constant number of queries whatever the number of visits.

    Args:
        patient_ref: UUID, patient number or national ID.
        limit: at most this many visits (newest); ``total_visits`` gives the full count.

    The patient's national ID is masked unless ``actor`` holds ``patient:read_identifiers``;
    the READ event records which (``identifiers``).

    Scopes (seed 003 4.3) apply in the queries: the patient must be within the actor's
    ``patient:read`` scope (``visit:read``'s for a role without ``patient:read``), and only
    the visits within its ``visit:read`` scope are listed and counted.

    Raises:
        NotFound (404): no such patient, or outside the actor's scope.
    """
    access = patients_service.identifier_access(actor)
    within = visits_service.patient_filter(actor)
    patient = patients_service.present_summary(
        await patients_service.resolve(session, patient_ref, within=within), access)
    visits = await visits_service.list_for_patient(session, patient.id, actor=actor)
    shown = visits[:limit]
    ids = [v.id for v in shown]
    forms = await forms_service.summaries_for_visits(session, ids)
    diagnoses = await clinical_service.diagnoses_for_visits(session, ids)
    vitals = await clinical_service.vitals_for_visits(session, ids)
    documents = await documents_service.summaries_for_visits(session, ids)
    await audit.record(session, AuditAction.READ, "patient_history", patient.id,
                       patient_id=patient.id,
                       changes={"visits": len(shown), "identifiers": access.value})
    return PatientHistory(
        patient=patient,
        total_visits=len(visits),
        visits=[
            VisitHistory(**v.model_dump(), forms=forms.get(v.id, []),
                         diagnoses=diagnoses.get(v.id, []), vital_signs=vitals.get(v.id, []),
                         documents=documents.get(v.id, []))
            for v in shown
        ],
    )


async def patient_details(session: AsyncSession, actor: Principal, patient_ref: str, *,
                          appointments_limit: int = 50) -> PatientDetails:
    """A patient with its insurance provider, medical record and newest appointments, in a
    constant number of queries whatever the number of appointments (one per related
    module). Audited: one READ of the patient and one of the medical record.

    Args:
        patient_ref: UUID, patient number or national ID.
        appointments_limit: newest appointments to include.

    Identifiers are masked unless ``actor`` holds ``patient:read_identifiers``.

    Raises:
        NotFound (404): no such patient, or outside the actor's ``patient:read`` scope.
    """
    # Function-level: scheduling.service imports patients.service (and may reach us).
    from hms.scheduling import service as scheduling_service

    access = patients_service.identifier_access(actor)
    patient = await patients_service.get_patient(session, patient_ref, access=access,
                                                 within=patient_scope(actor))
    provider = None
    if patient.insurance_provider_id is not None:
        provider = (await organization_service.insurance_providers_by_ids(
            session, [patient.insurance_provider_id])).get(patient.insurance_provider_id)
    record = (await patients_service.medical_records_by_patients(session, [patient.id])
              ).get(patient.id)
    if record is not None:
        await audit.record(session, AuditAction.READ, patients_service.RECORD_ENTITY,
                           record.id, patient_id=patient.id, changes={"via": "details"})
    appointments = list(await scheduling_service.appointments_of_patient(
        session, patient.id, limit=appointments_limit))
    return PatientDetails(patient=patient, insurance_provider=provider,
                          medical_record=record, appointments=appointments)


def patient_scope(actor: Principal) -> RowFilter | None:
    """The patients ``actor`` may read (its ``patient:read`` scope) as a query predicate;
    None for all. Medical records follow their patient's scope."""
    return visits_service.patient_filter(actor, Perm.PATIENT_READ)
