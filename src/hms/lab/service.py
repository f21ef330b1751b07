"""Lab test use cases (seed 004 ``/lab-tests``): order (alone or in a batch from a
consultation), list, read, collect the sample, process, enter results, cancel.

Status machine (seed 004 7 and 11.5)::

    ordered -> sample_collected -> in_progress -> completed
    ordered | sample_collected | in_progress -> cancelled

No step is skipped; completed and cancelled are final. Lab tests are clinical records and
are never hard-deleted (seed 004 14.7).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.core.auth import Principal
from hms.core.errors import Forbidden, NotFound, PreconditionFailed, ValidationFailed
from hms.core.pagination import Page, PageParams
from hms.core.permissions import Perm
from hms.core.sorting import parse_sort
from hms.db.base import utcnow
from hms.lab.errors import (
    ConsultationPatientMismatch,
    InvalidStatusTransition,
    LabTestFinal,
    LabTestNotCancellable,
    OrderedByNotCaller,
    ResultsBeforeCollection,
    ResultsNotEditable,
    ResultsRequired,
    VisitPatientMismatch,
)
from hms.lab.models import LabTest
from hms.lab.repository import LabTestFilters, LabTestRepository
from hms.lab.schemas import (
    LabResultEntry,
    LabTestCreate,
    LabTestOrder,
    LabTestRead,
    LabTestSort,
    LabTestStatus,
    LabTestUpdate,
    SampleCollection,
)
from hms.patients import service as patients_service

S = LabTestStatus

#: Allowed moves (seed 004 11.5 "Cannot skip status transitions").
TRANSITIONS: dict[LabTestStatus, frozenset[LabTestStatus]] = {
    S.ORDERED: frozenset({S.SAMPLE_COLLECTED, S.CANCELLED}),
    S.SAMPLE_COLLECTED: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}
FINAL = frozenset({S.COMPLETED, S.CANCELLED})
_FUTURE_SLACK = timedelta(minutes=5)  # clock skew allowed on client-sent timestamps
# Earliest plausible timestamp; also keeps "0001-01-01T00:00+01:00" (out of range once in
# UTC) from reaching the database as a 500.
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_SNAPSHOT = (
    "test_name", "test_type", "status", "ordered_date", "sample_collected_date",
    "result_date", "result_value", "result_unit", "reference_range", "notes",
    "cancelled_reason", "consultation_id", "visit_id")
_RESULT_FIELDS = ("result_value", "result_unit", "reference_range", "result_date")


def _snap(row: LabTest) -> dict[str, Any]:
    return {k: getattr(row, k) for k in _SNAPSHOT}


def _field_error(field: str, message: str, kind: str) -> list[dict[str, Any]]:
    return [{"field": field, "in": "body", "message": message, "type": kind}]


def _invalid(field: str, message: str, kind: str = "value_error") -> ValidationFailed:
    return ValidationFailed(f"{field} {message}", errors=_field_error(field, message, kind))


def _check_time(value: datetime, field: str, *, not_before: datetime | None,
                before_name: str) -> None:
    if value > utcnow() + _FUTURE_SLACK:
        raise _invalid(field, "cannot be in the future", "date_in_future")
    if value < _EARLIEST:
        raise _invalid(field, "cannot be before 1900", "date_too_early")
    if not_before is not None and value < not_before:
        raise _invalid(field, f"cannot be before {before_name}", "date_order")


def _clinical() -> Any:
    # Function-level import: clinical imports lab (consultation completion) at call time.
    from hms.clinical import service as clinical_service

    return clinical_service


def _visits() -> Any:
    from hms.visits import service as visits_service

    return visits_service


async def _locked(session: AsyncSession, lab_test_id: uuid.UUID,
                  expected: int | None = None) -> LabTest:
    row = await LabTestRepository(session).get(lab_test_id, for_update=True)
    if row is None:
        raise NotFound("Lab test not found")
    if expected is not None and row.version != expected:
        raise PreconditionFailed(
            f"Lab test changed since version {expected}; current version is {row.version}")
    return row


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed("Lab test changed by another user; reload and retry"
                                 ) from exc


def _move(row: LabTest, target: LabTestStatus) -> None:
    current = S(row.status)
    if target not in TRANSITIONS[current]:
        if current is S.ORDERED and target in (S.IN_PROGRESS, S.COMPLETED):
            raise InvalidStatusTransition(
                current, target, "collect the sample first (no skipping, seed 004 11.5; "
                                 "rule invalid_status_transition)")
        if current is S.SAMPLE_COLLECTED and target is S.COMPLETED:
            raise InvalidStatusTransition(
                current, target, "move the test to in_progress first (no skipping, seed 004 "
                                 "11.5; rule invalid_status_transition)")
        raise InvalidStatusTransition(current, target)
    row.status = target.value


async def _audit_update(session: AsyncSession, row: LabTest, before: dict[str, Any],
                        action: AuditAction = AuditAction.UPDATE) -> None:
    await audit.record(session, action, "lab_test", row.id, patient_id=row.patient_id,
                       changes=audit.diff(before, _snap(row)))


# --- contract for other modules ----------------------------------------------------------

async def order_tests(
    session: AsyncSession,
    actor: Principal,
    *,
    patient_id: uuid.UUID,
    consultation_id: uuid.UUID | None,
    tests: Sequence[LabTestOrder],
    visit_id: uuid.UUID | None = None,
    ordered_date: datetime | None = None,
) -> list[LabTestRead]:
    """Order lab tests for a patient, one row per test, status ``ordered``; the ordering
    doctor is ``actor``. Flushes, never commits; each row is audited (create).

    Used by ``POST /lab-tests`` (one test) and by the clinical module's consultation
    completion (a batch, seed 004 10 "Order Lab Tests: batch operation").

    Args:
        consultation_id: optional; it must exist and belong to ``patient_id``. The tests
            take its ``visit_id``.
        tests: what to order (``test_name`` required, ``test_type``, ``notes``).
        visit_id: optional when no consultation is given; the visit must belong to the
            patient.
        ordered_date: UTC, aware; default now; not in the future.

    Returns:
        The new lab tests, in the order of ``tests`` (empty for an empty batch).

    Raises:
        Forbidden (403): the actor lacks ``lab_test:order`` (only doctors order lab tests,
            seed 004 11.3).
        PatientNotActive (422 ``patient_not_active``): unknown, inactive, deceased patient.
        ValidationFailed (422): unknown ``consultation_id`` / ``visit_id``, future
            ``ordered_date``.
        ConsultationPatientMismatch (422), VisitPatientMismatch (422).
    """
    if not actor.can(Perm.LAB_TEST_ORDER):
        raise Forbidden("Only doctors order lab tests (seed 004 11.3)")
    await patients_service.require_active_patient(session, patient_id)
    if consultation_id is not None:
        try:
            consultation = await _clinical().get_consultation(session, consultation_id)
        except NotFound:
            raise _invalid("consultation_id", "names no consultation", "not_found") from None
        if consultation.patient_id != patient_id:
            raise ConsultationPatientMismatch(
                "The consultation belongs to another patient "
                "(rule consultation_patient_mismatch)",
                errors=_field_error("consultation_id", "belongs to another patient",
                                    "consultation_patient_mismatch"))
        if visit_id is not None and consultation.visit_id not in (None, visit_id):
            raise _invalid("visit_id", "is not the consultation's visit", "mismatch")
        visit_id = visit_id or consultation.visit_id
    elif visit_id is not None:
        try:
            visit = await _visits().get_visit(session, visit_id)
        except NotFound:
            raise _invalid("visit_id", "names no visit", "not_found") from None
        if visit.patient_id != patient_id:
            raise VisitPatientMismatch(
                "The visit belongs to another patient (rule visit_patient_mismatch)",
                errors=_field_error("visit_id", "belongs to another patient",
                                    "visit_patient_mismatch"))
    if not tests:
        return []
    when = ordered_date or utcnow()
    _check_time(when, "ordered_date", not_before=None, before_name="")
    rows = [LabTest(
        patient_id=patient_id, consultation_id=consultation_id, visit_id=visit_id,
        ordered_by_doctor_id=actor.user_id, test_name=t.test_name, test_type=t.test_type,
        notes=t.notes, ordered_date=when, status=S.ORDERED.value,
    ) for t in tests]
    await LabTestRepository(session).add_all(rows)
    for row in rows:
        await audit.record(session, AuditAction.CREATE, "lab_test", row.id,
                           patient_id=row.patient_id, changes={"after": _snap(row)})
    return [LabTestRead.model_validate(r) for r in rows]


async def tests_for_consultations(
    session: AsyncSession, consultation_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[LabTestRead]]:
    """The lab tests of several consultations in one query (the caller audits its read).

    Returns:
        ``{consultation_id: [LabTestRead, ...]}`` with an entry (maybe empty) for every
        requested id; tests oldest order first.
    """
    ids = list(dict.fromkeys(consultation_ids))
    out: dict[uuid.UUID, list[LabTestRead]] = {cid: [] for cid in ids}
    for row in await LabTestRepository(session).for_consultations(ids):
        assert row.consultation_id is not None
        out[row.consultation_id].append(LabTestRead.model_validate(row))
    return out


async def get_lab_test(session: AsyncSession, lab_test_id: uuid.UUID) -> LabTestRead:
    """A lab test by id, for other modules (the caller audits its own read).

    Raises:
        NotFound (404): no such lab test.
    """
    row = await LabTestRepository(session).get(lab_test_id)
    if row is None:
        raise NotFound("Lab test not found")
    return LabTestRead.model_validate(row)


# --- HTTP use cases ----------------------------------------------------------------------

async def create_lab_test(session: AsyncSession, actor: Principal,
                          data: LabTestCreate) -> LabTestRead:
    """``POST /lab-tests``: order one test (doctors only, seed 004 10 and 11.3).

    Raises:
        OrderedByNotCaller (422): ``ordered_by_doctor_id`` names someone else.
        Everything :func:`order_tests` raises.
    """
    if data.ordered_by_doctor_id is not None and data.ordered_by_doctor_id != actor.user_id:
        raise OrderedByNotCaller(
            "A doctor orders lab tests in their own name (rule ordered_by_not_caller)",
            errors=_field_error("ordered_by_doctor_id", "must be the caller",
                                "ordered_by_not_caller"))
    (row,) = await order_tests(
        session, actor, patient_id=data.patient_id, consultation_id=data.consultation_id,
        tests=[LabTestOrder(test_name=data.test_name, test_type=data.test_type,
                            notes=data.notes)],
        visit_id=data.visit_id, ordered_date=data.ordered_date)
    return row


async def read_lab_test(session: AsyncSession, actor: Principal,
                        lab_test_id: uuid.UUID) -> LabTestRead:
    """A lab test, audited as a read of patient data.

    Raises:
        NotFound (404): no such lab test.
    """
    out = await get_lab_test(session, lab_test_id)
    await audit.record(session, AuditAction.READ, "lab_test", out.id,
                       patient_id=out.patient_id)
    return out


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


async def list_lab_tests(
    session: AsyncSession,
    actor: Principal,
    page: PageParams,
    *,
    statuses: list[LabTestStatus] | None = None,
    patient_id: uuid.UUID | None = None,
    consultation_id: uuid.UUID | None = None,
    visit_id: uuid.UUID | None = None,
    ordered_by_doctor_id: uuid.UUID | None = None,
    test_type: str | None = None,
    q: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    sort: str | None = None,
) -> Page[LabTestRead]:
    """A page of lab tests (each row audited as a read).

    Args:
        date_from, date_to: inclusive range of ``ordered_date`` (UTC dates).
        q: text in the test name (case-insensitive).
        sort: comma list of :class:`LabTestSort` keys, ``-`` for descending; default
            newest order first.

    Raises:
        ValidationFailed (422): unknown sort key, or ``date_from`` after ``date_to``.
    """
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed("date_from must not be after date_to", errors=[{
            "field": "date_from", "in": "query", "message": "after date_to",
            "type": "date_order"}])
    order = parse_sort(sort, LabTestSort, [("ordered_date", True)])
    filters = LabTestFilters(
        statuses=tuple(s.value for s in statuses or ()), patient_id=patient_id,
        consultation_id=consultation_id, visit_id=visit_id,
        ordered_by_doctor_id=ordered_by_doctor_id, test_type=test_type, text=q,
        ordered_from=_day_start(date_from) if date_from else None,
        ordered_to=_day_start(date_to) + timedelta(days=1) if date_to else None,
    )
    rows, total = await LabTestRepository(session).page(
        filters, offset=page.offset, limit=page.page_size, order=order)
    await audit.record_reads(session, "lab_test", [(r.id, r.patient_id) for r in rows])
    return Page[LabTestRead](items=[LabTestRead.model_validate(r) for r in rows],
                             total=total, page=page.page, page_size=page.page_size)


async def update_lab_test(session: AsyncSession, actor: Principal, lab_test_id: uuid.UUID,
                          data: LabTestUpdate, if_match: int | None = None) -> LabTestRead:
    """``PUT /lab-tests/{id}``: edit the order (test name/type, notes) or move the status
    one step (ordered -> sample_collected sets ``sample_collected_date`` now;
    sample_collected -> in_progress; any non-final -> cancelled with
    ``cancelled_reason``). Partial: only the fields sent change; audited with old/new.

    Raises:
        NotFound (404).
        PreconditionFailed (412): ``version`` / ``If-Match`` is stale.
        ResultsNotEditable (422 ``results_not_editable``): result fields sent.
        ResultsRequired (422 ``results_required``): status ``completed`` (use
            enter-results).
        InvalidStatusTransition (422 ``invalid_status_transition``): a skip or a move out
            of a final status (seed 004 11.5).
        LabTestFinal (409 ``lab_test_final``): a completed/cancelled test, fields other than
            ``notes``.
    """
    fields = data.model_dump(exclude_unset=True, exclude={"version"})
    sent_results = [k for k in _RESULT_FIELDS if k in fields]
    if sent_results:
        raise ResultsNotEditable(
            "Results are entered with POST /lab-tests/{id}/enter-results, never by PUT "
            "(rule results_not_editable)",
            errors=[{"field": k, "in": "body", "message": "use enter-results",
                     "type": "results_not_editable"} for k in sent_results])
    if "test_name" in fields and fields["test_name"] is None:
        raise _invalid("test_name", "cannot be empty", "missing")
    expected = data.version if data.version is not None else if_match
    row = await _locked(session, lab_test_id, expected)
    before = _snap(row)
    current = S(row.status)
    target = fields.pop("status", None)
    if target is not None and S(target) is not current:
        target = S(target)
        if target is S.COMPLETED and S.COMPLETED in TRANSITIONS[current]:
            raise ResultsRequired(
                "A lab test is completed by entering its results "
                "(POST /lab-tests/{id}/enter-results; rule results_required)")
        _move(row, target)
        if target is S.SAMPLE_COLLECTED:
            row.sample_collected_date = utcnow()
    elif current in FINAL and set(fields) - {"notes"}:
        raise LabTestFinal(f"A {current.value} lab test only accepts notes "
                           "(rule lab_test_final)")
    if "cancelled_reason" in fields and S(row.status) is not S.CANCELLED:
        raise _invalid("cancelled_reason", "is only set when cancelling", "not_cancelling")
    for key, value in fields.items():
        setattr(row, key, value)
    await _flush(session)
    await _audit_update(session, row, before)
    return LabTestRead.model_validate(row)


async def collect_sample(session: AsyncSession, actor: Principal, lab_test_id: uuid.UUID,
                         data: SampleCollection | None = None,
                         if_match: int | None = None) -> LabTestRead:
    """``POST /lab-tests/{id}/collect-sample``: ordered -> sample_collected, setting
    ``sample_collected_date`` (default now; UTC).

    Raises:
        NotFound (404); PreconditionFailed (412): stale version.
        InvalidStatusTransition (422 ``invalid_status_transition``): not ``ordered``.
        ValidationFailed (422): the date is in the future or before the order.
    """
    data = data or SampleCollection()
    expected = data.version if data.version is not None else if_match
    row = await _locked(session, lab_test_id, expected)
    before = _snap(row)
    _move(row, S.SAMPLE_COLLECTED)
    when = data.sample_collected_date or utcnow()
    _check_time(when, "sample_collected_date", not_before=row.ordered_date,
                before_name="the order")
    row.sample_collected_date = when
    if data.notes is not None:
        row.notes = data.notes
    await _flush(session)
    await _audit_update(session, row, before)
    return LabTestRead.model_validate(row)


async def enter_results(session: AsyncSession, actor: Principal, lab_test_id: uuid.UUID,
                        data: LabResultEntry, if_match: int | None = None) -> LabTestRead:
    """``POST /lab-tests/{id}/enter-results``: in_progress -> completed with the result
    (``result_value`` required, unit, reference range) and ``result_date`` (default now).

    Raises:
        NotFound (404); PreconditionFailed (412): stale version.
        ResultsBeforeCollection (422 ``results_before_collection``): still ``ordered``
            (seed 004 11.5 "results can only be entered after sample is collected").
        InvalidStatusTransition (422 ``invalid_status_transition``): ``sample_collected``
            (processing must start first: no skipping), or already completed/cancelled.
        ValidationFailed (422): ``result_date`` in the future or before the sample.
    """
    expected = data.version if data.version is not None else if_match
    row = await _locked(session, lab_test_id, expected)
    if row.status == S.ORDERED.value:
        raise ResultsBeforeCollection()
    before = _snap(row)
    _move(row, S.COMPLETED)
    when = data.result_date or utcnow()
    _check_time(when, "result_date", not_before=row.sample_collected_date,
                before_name="the sample collection")
    row.result_value = data.result_value
    row.result_unit = data.result_unit
    row.reference_range = data.reference_range
    row.result_date = when
    if data.notes is not None:
        row.notes = data.notes
    await _flush(session)
    await _audit_update(session, row, before)
    return LabTestRead.model_validate(row)


async def cancel_lab_test(session: AsyncSession, actor: Principal, lab_test_id: uuid.UUID,
                          reason: str | None = None) -> LabTestRead:
    """``DELETE /lab-tests/{id}``: withdraw an order that is still ``ordered`` (status
    cancelled, audited as a delete; the row stays, seed 004 14.7).

    Raises:
        NotFound (404).
        LabTestNotCancellable (409 ``lab_test_not_cancellable``): the sample was taken
            (cancel with PUT status=cancelled) or the test is completed/cancelled.
    """
    row = await _locked(session, lab_test_id)
    if row.status != S.ORDERED.value:
        raise LabTestNotCancellable(
            f"Only an ordered lab test can be withdrawn; this one is {row.status} "
            "(rule lab_test_not_cancellable; lab tests are never deleted)",
            extra={"status": row.status})
    before = _snap(row)
    _move(row, S.CANCELLED)
    row.cancelled_reason = reason
    await _flush(session)
    await _audit_update(session, row, before, AuditAction.DELETE)
    return LabTestRead.model_validate(row)
