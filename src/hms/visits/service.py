"""Visit use cases: open, list (open visits first for physicians), read, update with
optimistic concurrency, close (which locks the visit's forms)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, SQLColumnExpression, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.clinical import service as clinical_service
from hms.clinical.schemas import DiagnosisImport
from hms.core.auth import Principal
from hms.core.errors import Forbidden, NotFound, PreconditionFailed, PreconditionRequired
from hms.core.pagination import Page, PageParams
from hms.core.permissions import Perm, Role
from hms.core.scoping import RowFilter, RowScope
from hms.core.sorting import parse_sort
from hms.db.base import utcnow
from hms.identity import service as identity_service
from hms.patients import service as patients_service
from hms.visits.bulk import bulk_load as bulk_load  # public: hms generate
from hms.visits.errors import (
    InvalidVisitTransition,
    NotAPhysician,
    PatientNotEligible,
    VisitClosed,
)
from hms.visits.models import Visit
from hms.visits.repository import (
    VisitFilters,
    VisitRepository,
    patient_has_visible_visit,
    visit_is_visible,
)
from hms.visits.schemas import (
    VisitCreate,
    VisitImport,
    VisitRead,
    VisitSort,
    VisitStatus,
    VisitUpdate,
)

# Allowed status moves; closed and cancelled are final.
TRANSITIONS: dict[VisitStatus, set[VisitStatus]] = {
    VisitStatus.OPEN: {VisitStatus.IN_PROGRESS, VisitStatus.CLOSED, VisitStatus.CANCELLED},
    VisitStatus.IN_PROGRESS: {VisitStatus.CLOSED, VisitStatus.CANCELLED},
    VisitStatus.CLOSED: set(),
    VisitStatus.CANCELLED: set(),
}
FINAL = {VisitStatus.CLOSED, VisitStatus.CANCELLED}
DIAGNOSIS_FIELDS = {"diagnosis", "diagnosis_icd10_code"}
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"


def _snapshot(v: Visit) -> dict[str, object]:
    return {k: getattr(v, k) for k in (
        "status", "visit_type", "department", "chief_complaint", "attending_physician_id",
        "diagnosis", "diagnosis_icd10_code", "notes", "ended_at")}


async def _check_physician(session: AsyncSession, user_id: uuid.UUID | None) -> None:
    if user_id is None:
        return
    user = await identity_service.user_summary(session, user_id)
    if user is None or not user.is_active or user.role != Role.PHYSICIAN:
        raise NotAPhysician("attending_physician_id must name an active physician")


async def open_visit(session: AsyncSession, actor: Principal, data: VisitCreate) -> VisitRead:
    """Open a visit for a patient (a nurse at the desk).

    Args:
        data: ``patient_id`` may be the patient's UUID, patient number or national ID.

    Returns:
        The new visit, status ``open``, ``started_at`` now (UTC).

    Raises:
        NotFound (404): no such patient.
        PatientNotEligible (422): the patient is deceased or deactivated.
        NotAPhysician (422): ``attending_physician_id`` is not an active physician.
    """
    patient = await patients_service.resolve(session, data.patient_id)
    if patient.deceased_at is not None or not patient.is_active:
        raise PatientNotEligible("A visit cannot be opened for a deceased or inactive patient")
    await _check_physician(session, data.attending_physician_id)
    visit = await VisitRepository(session).add(Visit(
        patient_id=patient.id, status=VisitStatus.OPEN.value,
        visit_type=data.visit_type.value, department=data.department,
        chief_complaint=data.chief_complaint, attending_physician_id=data.attending_physician_id,
        notes=data.notes, opened_by=actor.user_id, started_at=utcnow(),
    ))
    await audit.record(session, AuditAction.CREATE, "visit", visit.id, patient_id=patient.id,
                       changes={"after": {"status": visit.status,
                                          "visit_type": visit.visit_type}})
    return VisitRead.model_validate(visit)


def _scope(actor: Principal | None) -> RowScope | None:
    return actor.row_scope(Perm.VISIT_READ) if actor is not None else None


async def get_visit(
    session: AsyncSession, visit_id: uuid.UUID, *, actor: Principal | None = None
) -> VisitRead:
    """A visit by id, for other modules (the caller audits its own read).

    Args:
        actor: when given, the visit must be within the actor's ``visit:read`` scope
            (checked in the query); None for system callers (imports, jobs).

    Raises:
        NotFound (404): no such visit, or outside the actor's scope.
    """
    visit = await VisitRepository(session).get(visit_id, scope=_scope(actor))
    if visit is None:
        raise NotFound("Visit not found")
    return VisitRead.model_validate(visit)


async def require_open_visit(
    session: AsyncSession, visit_id: uuid.UUID, *, actor: Principal | None = None
) -> VisitRead:
    """A visit that still accepts form writes.

    The visit row stays locked until the caller's transaction ends.

    Args:
        actor: when given, the visit must be within the actor's ``visit:read`` scope.

    Raises:
        NotFound (404): no such visit, or outside the actor's scope.
        VisitClosed (409): the visit is closed or cancelled (its forms are locked).
    """
    # Lock the visit row (PostgreSQL; SQLite serialises writers anyway) so a form write and
    # a concurrent close cannot both commit: whichever comes second sees the other's result.
    row = await VisitRepository(session).get(visit_id, for_update=True, scope=_scope(actor))
    if row is None:
        raise NotFound("Visit not found")
    if row.status in FINAL:
        raise VisitClosed("The visit is closed; its forms are locked")
    return VisitRead.model_validate(row)


async def read_visit(session: AsyncSession, actor: Principal, visit_id: uuid.UUID) -> VisitRead:
    """A visit, audited as a read of patient data.

    Raises:
        NotFound (404): no such visit, or outside the actor's ``visit:read`` scope.
    """
    visit = await get_visit(session, visit_id, actor=actor)
    await audit.record(session, AuditAction.READ, "visit", visit.id, patient_id=visit.patient_id)
    return visit


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def _parse_sort(sort: str | None) -> list[tuple[str, bool]]:
    return parse_sort(sort, VisitSort, [("started_at", True)])


async def list_visits(
    session: AsyncSession,
    actor: Principal,
    page: PageParams,
    *,
    statuses: list[VisitStatus] | None = None,
    patient: str | None = None,
    physician_id: uuid.UUID | None = None,
    department: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    sort: str | None = None,
) -> Page[VisitRead]:
    """A page of the visits within the actor's ``visit:read`` scope. Physicians see open
    visits first, then in-progress, then the rest; within each group the ``sort`` order
    (default newest first). ``total`` is counted up to 200 (``total_exact`` false beyond).

    Args:
        patient: any patient reference (UUID, patient number, national ID).
        date_from, date_to: inclusive range on ``started_at`` (UTC dates).
        sort: comma list of :class:`VisitSort` keys, ``-`` for descending.

    Raises:
        NotFound (404): ``patient`` names no patient, or none the actor may read.
    """
    patient_id = (await patients_service.resolve(
        session, patient, within=patient_filter(actor)
    )).id if patient else None
    filters = VisitFilters(
        statuses=tuple(s.value for s in statuses or ()),
        patient_id=patient_id,
        attending_physician_id=physician_id,
        department=department,
        started_from=_day_start(date_from) if date_from else None,
        started_to=_day_start(date_to) + timedelta(days=1) if date_to else None,
    )
    rows, total, exact = await VisitRepository(session).page(
        filters, offset=page.offset, limit=page.page_size,
        open_first=actor.role == Role.PHYSICIAN, order=_parse_sort(sort),
        scope=_scope(actor),
    )
    for v in rows:
        await audit.record(session, AuditAction.READ, "visit", v.id, patient_id=v.patient_id)
    return Page[VisitRead](items=[VisitRead.model_validate(v) for v in rows], total=total,
                           page=page.page, page_size=page.page_size, total_exact=exact)


async def update_visit(
    session: AsyncSession,
    actor: Principal,
    visit_id: uuid.UUID,
    data: VisitUpdate,
    if_match: int | None,
) -> VisitRead:
    """Update a visit: diagnosis (ICD-10 code optional), notes, status, department...

    The client must say which version it read (``If-Match`` or ``version``); a stale
    version is refused so two writers never silently overwrite each other. Closing sets
    ``ended_at`` and locks the visit's forms. A diagnosis change is also recorded as a
    diagnosis [Condition] row.

    Raises:
        NotFound (404): no such visit, or outside the actor's ``visit:read`` scope.
        Forbidden (403): diagnosis fields without ``diagnosis:write`` (physicians, admins).
        PreconditionRequired (428): no version given.
        PreconditionFailed (412): the visit changed since that version.
        VisitClosed (409): the visit is closed or cancelled.
        InvalidVisitTransition (409): status change not allowed.
        NotAPhysician (422): attending physician is not an active physician.
    """
    expected = data.version if data.version is not None else if_match
    if expected is None:
        raise PreconditionRequired("Send If-Match or version with the version you read")
    fields = data.model_dump(exclude_unset=True, exclude={"version"})
    if DIAGNOSIS_FIELDS & fields.keys() and not actor.can(Perm.DIAGNOSIS_WRITE):
        raise Forbidden("Only physicians update diagnoses")
    repo = VisitRepository(session)
    visit = await repo.get(visit_id, for_update=True, scope=_scope(actor))
    if visit is None:
        raise NotFound("Visit not found")
    if visit.version != expected:
        raise PreconditionFailed(
            f"Visit changed since version {expected}; current version is {visit.version}")
    current = VisitStatus(visit.status)
    if current in FINAL:
        raise VisitClosed("The visit is closed; it can no longer be changed")
    before = _snapshot(visit)
    new_status = fields.pop("status", None)
    if new_status is not None and new_status != current:
        if new_status not in TRANSITIONS[current]:
            raise InvalidVisitTransition(f"Cannot move a visit from {current} to {new_status}")
        visit.status = VisitStatus(new_status).value
        if new_status in FINAL:
            visit.ended_at = utcnow()
            visit.closed_by = actor.user_id
    if "attending_physician_id" in fields:
        await _check_physician(session, fields["attending_physician_id"])
    for key, value in fields.items():
        setattr(visit, key, value)
    try:
        await session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed("Visit changed by another user; reload and retry") from exc
    after = _snapshot(visit)
    if DIAGNOSIS_FIELDS & fields.keys() and (
        before["diagnosis"] != after["diagnosis"]
        or before["diagnosis_icd10_code"] != after["diagnosis_icd10_code"]
    ) and visit.diagnosis:
        await clinical_service.record_diagnosis(
            session, patient_id=visit.patient_id, visit_id=visit.id, recorded_by=actor.user_id,
            data=DiagnosisImport(
                code=visit.diagnosis_icd10_code,
                code_system=ICD10_SYSTEM if visit.diagnosis_icd10_code else None,
                display=visit.diagnosis),
        )
    await audit.record(session, AuditAction.UPDATE, "visit", visit.id,
                       patient_id=visit.patient_id, changes=audit.diff(before, after))
    return VisitRead.model_validate(visit)


async def list_for_patient(
    session: AsyncSession, patient_id: uuid.UUID, *, actor: Principal | None = None
) -> list[VisitRead]:
    """Every visit of a patient, newest first (the caller audits); with ``actor``, only the
    visits within the actor's ``visit:read`` scope."""
    return [VisitRead.model_validate(v) for v in await VisitRepository(session).for_patient(
        patient_id, scope=_scope(actor))]


def patient_filter(actor: Principal, perm: Perm | None = None) -> RowFilter | None:
    """The patients ``actor`` may read under ``perm``'s scope, as a predicate on a patient
    id column (a correlated EXISTS on this module's visits), or None for every patient.

    ``patient:read:department`` reaches patients with at least one visit in the actor's
    department; ``patient:read:own`` patients with a visit the actor attends or opened.

    Args:
        perm: whose scope applies; default ``patient:read``, or ``visit:read`` for a role
            that reads visits without holding ``patient:read``.

    Source: HMS seed 003 section 4.3 (``patients:read:department``).
    """
    if perm is None:
        perm = Perm.PATIENT_READ if actor.can(Perm.PATIENT_READ) else Perm.VISIT_READ
    scope = actor.row_scope(perm)
    if scope.unrestricted:
        return None

    def predicate(patient_id: SQLColumnExpression[uuid.UUID]) -> ColumnElement[bool]:
        clause = patient_has_visible_visit(scope, patient_id)
        return clause if clause is not None else true()

    return predicate


def visit_filter(actor: Principal) -> RowFilter | None:
    """The visits ``actor`` may read (``visit:read`` scope), as a predicate on a visit id
    column (a correlated EXISTS), or None for every visit. For rows that hang off a visit
    (documents)."""
    scope = actor.row_scope(Perm.VISIT_READ)
    if scope.unrestricted:
        return None

    def predicate(visit_id: SQLColumnExpression[uuid.UUID]) -> ColumnElement[bool]:
        clause = visit_is_visible(scope, visit_id)
        return clause if clause is not None else true()

    return predicate


async def find_visit_by_source(
    session: AsyncSession, source_system: str, source_id: str
) -> VisitRead | None:
    """The visit imported with this source identifier, if any."""
    visit = await VisitRepository(session).by_source(source_system, source_id)
    return VisitRead.model_validate(visit) if visit else None


async def import_visit(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    data: VisitImport,
    source_system: str,
    source_id: str,
) -> VisitRead | None:
    """Import a visit (FHIR Encounter); None when this source id was imported before."""
    repo = VisitRepository(session)
    if await repo.by_source(source_system, source_id) is not None:
        return None
    visit = await repo.add(Visit(
        patient_id=patient_id, status=data.status.value, visit_type=data.visit_type.value,
        department=data.department, chief_complaint=data.chief_complaint,
        started_at=data.started_at, ended_at=data.ended_at, source_system=source_system,
        source_id=source_id,
    ))
    return VisitRead.model_validate(visit)
