"""Form use cases: SH.MR.FRM.05 nursing assessment (one per visit, amendable) and
SH.MR.FRM.04 radiology assessment (one per study, several per visit).

Every filled form leaves a ``form_submissions`` row. Writes need an open visit (closing a
visit locks its forms); reads work on any visit. Other modules call
:func:`summaries_for_visits`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.clinical import service as clinical_service
from hms.clinical.schemas import VitalSignsRead
from hms.core.auth import Principal
from hms.core.errors import (
    PreconditionFailed,
    PreconditionRequired,
    RuleViolation,
    ValidationFailed,
)
from hms.core.pagination import Page, PageParams
from hms.db.base import utcnow
from hms.forms.bulk import (  # public: hms generate
    bulk_load_nursing_assessments as bulk_load_nursing_assessments,
)
from hms.forms.errors import (
    CompletedFormToDraft,
    ContrastAllergyPremedicationRequired,
    ContrastRenalRiskUnacknowledged,
    FormNotFound,
    GadoliniumPregnancyUnacknowledged,
    NursingAssessmentExists,
)
from hms.forms.models import (
    FallRiskAssessment,
    FormAmendment,
    FormSubmission,
    NursingAssessment,
    PainAssessment,
    RadiologyAssessment,
)
from hms.forms.repository import FormRepository, NursingRows
from hms.forms.schemas import (
    FORM_VERSION,
    NURSING_FORM_CODE,
    RADIOLOGY_FORM_CODE,
    REQUIRED_VITALS,
    ContrastType,
    FallRiskInput,
    FallRiskRead,
    FormAmendmentRead,
    FormStatus,
    FormSubmissionRead,
    NursingAssessmentCreate,
    NursingAssessmentRead,
    NursingAssessmentUpdate,
    PainAssessmentRead,
    PregnancyStatus,
    RadiologyAssessmentCreate,
    RadiologyAssessmentRead,
)
from hms.forms.scoring import egfr_ckd_epi_2021, morse_fall_score, morse_risk_band
from hms.patients import service as patients_service
from hms.visits import service as visits_service

FINAL_STATUSES = {FormStatus.COMPLETED.value, FormStatus.AMENDED.value}
EGFR_RISK_THRESHOLD = 30.0  # mL/min/1.73 m², ACR Manual on Contrast Media 2024
_ANSWER_KEYS = ("status", "vital_signs", "pain_assessment", "fall_risk_assessment", "notes")


# ---------------------------------------------------------------- SH.MR.FRM.05


def _missing(field: str, message: str) -> dict[str, str]:
    return {"field": field, "in": "body", "message": message, "type": "missing"}


def _completeness_errors(data: NursingAssessmentCreate) -> list[dict[str, str]]:
    """What a completed SH.MR.FRM.05 lacks: each missing section, and each missing vital."""
    errors: list[dict[str, str]] = []
    if data.vital_signs is None:
        errors.append(_missing("vital_signs", "required for a completed nursing assessment"))
    else:
        errors.extend(
            _missing(f"vital_signs.{name}", "required for a completed nursing assessment")
            for name in REQUIRED_VITALS if getattr(data.vital_signs, name) is None
        )
    if data.pain_assessment is None:
        errors.append(_missing("pain_assessment",
                               "required for a completed nursing assessment"))
    if data.fall_risk_assessment is None:
        errors.append(_missing("fall_risk_assessment",
                               "required for a completed nursing assessment"))
    return errors


def _require_complete(data: NursingAssessmentCreate) -> None:
    errors = _completeness_errors(data)
    if errors:
        fields = ", ".join(e["field"] for e in errors)
        raise ValidationFailed(f"Incomplete nursing assessment: {fields}", errors=errors)


def _fall_values(data: FallRiskInput) -> dict[str, Any]:
    total = morse_fall_score(**data.model_dump())
    return {**data.model_dump(mode="json"), "total_score": total,
            "risk_level": morse_risk_band(total).value}


async def _nursing_read(
    session: AsyncSession, rows: NursingRows, *, with_amendments: bool = True,
    vitals: VitalSignsRead | None = None,
) -> NursingAssessmentRead:
    """The API shape of a stored assessment; ``vitals`` when the caller already holds the
    assessment's vital signs (just recorded), else they are read."""
    na = rows.assessment
    if vitals is not None and vitals.id != na.vital_signs_id:
        vitals = None
    if vitals is None and na.vital_signs_id is not None:
        vitals = await clinical_service.get_vital_signs(session, na.vital_signs_id)
    amendments = (await FormRepository(session).amendments(rows.submission.id)
                  if with_amendments else [])
    return NursingAssessmentRead(
        id=na.id,
        visit_id=na.visit_id,
        patient_id=rows.submission.patient_id,
        submission=FormSubmissionRead.model_validate(rows.submission),
        vital_signs=vitals,
        pain_assessment=PainAssessmentRead.model_validate(rows.pain) if rows.pain else None,
        fall_risk_assessment=(FallRiskRead.model_validate(rows.fall_risk)
                              if rows.fall_risk else None),
        notes=na.notes,
        assessed_by=na.assessed_by,
        assessed_at=na.assessed_at,
        amendments=[FormAmendmentRead.model_validate(a) for a in amendments],
    )


def _answers(read: NursingAssessmentRead) -> dict[str, Any]:
    """The full JSON of the form as it stands (what an amendment keeps)."""
    return read.model_dump(mode="json", exclude={"amendments"})


def _compare(answers: dict[str, Any]) -> dict[str, Any]:
    """The clinically meaningful part of the answers, for the audit diff."""
    out = {k: answers.get(k) for k in _ANSWER_KEYS}
    out["status"] = answers["submission"]["status"]
    if out["vital_signs"]:
        out["vital_signs"] = {k: v for k, v in out["vital_signs"].items()
                              if k not in ("id", "patient_id", "visit_id", "recorded_by",
                                           "recorded_at")}
    return out


async def _load_nursing(session: AsyncSession, actor: Principal,
                        visit_id: uuid.UUID) -> NursingRows:
    # The visit first, in the actor's scope: an unknown or out-of-scope visit is a 404
    # before anything of its form is loaded.
    await visits_service.get_visit(session, visit_id, actor=actor)
    rows = await FormRepository(session).nursing_for_visit(visit_id)
    if rows is None:
        raise FormNotFound("This visit has no nursing assessment yet; create it with POST")
    return rows


async def create_nursing_assessment(
    session: AsyncSession, actor: Principal, visit_id: uuid.UUID, data: NursingAssessmentCreate
) -> NursingAssessmentRead:
    """Fill SH.MR.FRM.05 for an open visit: vitals, pain, Morse fall risk, notes.

    The server computes the Morse total and band and (via the clinical module) the BMI.

    Args:
        visit_id: an open or in-progress visit.
        data: vital signs (Celsius, /min, mmHg, %, kg, cm), pain 0-10, six Morse items.
            ``status`` ``completed`` (default) needs every section and the six seed vitals;
            ``draft`` may be incomplete.

    Returns:
        The stored form with its submission (version 1).

    Raises:
        NotFound (404): no such visit, or outside the actor's ``visit:read`` scope.
        VisitClosed (409): the visit is closed or cancelled.
        NursingAssessmentExists (409): the visit already has one; edit it with PUT.
        ValidationFailed (422): a completed form lacks sections or vitals (one error each).

    Source: Morse JM, Morse RM, Tylko SJ (1989), Can J Aging 8(4):366-377.
    """
    visit = await visits_service.require_open_visit(session, visit_id, actor=actor)
    if data.status == FormStatus.COMPLETED.value:
        _require_complete(data)
    repo = FormRepository(session)
    if await repo.nursing_for_visit(visit_id) is not None:
        raise NursingAssessmentExists(
            "This visit already has a nursing assessment; edit it with PUT")
    now = utcnow()
    submission = FormSubmission(
        visit_id=visit.id, patient_id=visit.patient_id, form_code=NURSING_FORM_CODE,
        form_version=FORM_VERSION, status=data.status, submitted_by=actor.user_id,
        submitted_at=now, updated_by=actor.user_id, updated_at=now, version=1,
    )
    assessment = NursingAssessment(
        visit_id=visit.id, notes=data.notes,
        assessed_by=actor.user_id, assessed_at=now,
    )
    # Vitals first, so the assessment row is inserted with its vital_signs_id (no UPDATE).
    vitals: VitalSignsRead | None = None
    if data.vital_signs is not None:
        vitals = await clinical_service.record_vital_signs(
            session, patient_id=visit.patient_id, visit_id=visit.id, data=data.vital_signs,
            recorded_by=actor.user_id, recorded_at=now)
        assessment.vital_signs_id = vitals.id
    try:
        await repo.add(submission)
        assessment.submission_id = submission.id
        await repo.add(assessment)
    except IntegrityError as exc:
        # A concurrent POST won the unique visit_id. The 409 rolls the whole request back
        # (these vitals too), so no savepoint is needed around the inserts.
        raise NursingAssessmentExists(
            "This visit already has a nursing assessment; edit it with PUT") from exc
    pain = fall = None
    if data.pain_assessment is not None:
        pain = PainAssessment(nursing_assessment_id=assessment.id,
                              **data.pain_assessment.model_dump())
    if data.fall_risk_assessment is not None:
        fall = FallRiskAssessment(nursing_assessment_id=assessment.id,
                                  **_fall_values(data.fall_risk_assessment))
    await repo.add(*(r for r in (pain, fall) if r is not None))
    read = await _nursing_read(session, NursingRows(assessment, submission, pain, fall),
                               with_amendments=False, vitals=vitals)
    await audit.record(
        session, AuditAction.CREATE, "nursing_assessment", assessment.id,
        patient_id=visit.patient_id,
        changes={"after": {**_compare(_answers(read)), "submission_id": submission.id,
                           "form_code": NURSING_FORM_CODE}},
    )
    return read


async def get_nursing_assessment(
    session: AsyncSession, actor: Principal, visit_id: uuid.UUID
) -> NursingAssessmentRead:
    """The visit's SH.MR.FRM.05 with its amendment history (audited read; closed visits too).

    Raises:
        NotFound (404): no such visit, or outside the actor's ``visit:read`` scope.
        FormNotFound (404): the visit has no nursing assessment.
    """
    rows = await _load_nursing(session, actor, visit_id)
    read = await _nursing_read(session, rows)
    await audit.record(session, AuditAction.READ, "nursing_assessment", read.id,
                       patient_id=read.patient_id)
    return read


def _expected_version(data: NursingAssessmentUpdate, if_match: int | None) -> int:
    if data.version is not None and if_match is not None and data.version != if_match:
        raise PreconditionFailed("If-Match and version disagree; send the version you read")
    expected = data.version if data.version is not None else if_match
    if expected is None:
        raise PreconditionRequired("Send If-Match or version with the version you read")
    return expected


async def update_nursing_assessment(
    session: AsyncSession,
    actor: Principal,
    visit_id: uuid.UUID,
    data: NursingAssessmentUpdate,
    if_match: int | None,
) -> NursingAssessmentRead:
    """Replace the answers of the visit's SH.MR.FRM.05 (optimistic concurrency).

    Editing a completed (or already amended) form stores the full previous answers in
    ``form_amendments`` and sets the status to ``amended``; editing a draft updates it in
    place (``status`` ``completed`` completes it). The version moves by one either way.

    Args:
        data: the whole form again, plus ``version`` and an optional ``amendment_reason``.
        if_match: the version from an ``If-Match`` header, if sent.

    Returns:
        The form as stored now, with its amendment history.

    Raises:
        PreconditionRequired (428): neither If-Match nor ``version`` given.
        PreconditionFailed (412): the form changed since that version (also when two
            editors race: one conditional UPDATE wins).
        NotFound (404): no such visit, or no nursing assessment on it.
        VisitClosed (409): the visit is closed or cancelled.
        CompletedFormToDraft (422): a completed form cannot go back to draft.
        ValidationFailed (422): the completed form lacks sections or vitals.
    """
    expected = _expected_version(data, if_match)
    visit = await visits_service.require_open_visit(session, visit_id, actor=actor)
    rows = await _load_nursing(session, actor, visit_id)
    submission, assessment = rows.submission, rows.assessment
    if submission.version != expected:
        raise PreconditionFailed(
            f"Form changed since version {expected}; current version is {submission.version}")
    was_final = submission.status in FINAL_STATUSES
    if was_final and data.status == FormStatus.DRAFT.value:
        raise CompletedFormToDraft("A completed nursing assessment cannot become a draft")
    if was_final or data.status == FormStatus.COMPLETED.value:
        _require_complete(data)
    before = _answers(await _nursing_read(session, rows, with_amendments=False))
    new_status = FormStatus.AMENDED.value if was_final else data.status
    repo = FormRepository(session)
    now = utcnow()
    if not await repo.bump_version(submission, expected_version=expected, status=new_status,
                                   updated_by=actor.user_id, now=now):
        raise PreconditionFailed("Form changed by another user; reload and retry")
    amendment: FormAmendment | None = None
    if was_final:
        amendment = FormAmendment(submission_id=submission.id, amended_by=actor.user_id,
                                  amended_at=now, previous_version=expected,
                                  previous_answers=before, reason=data.amendment_reason)
        await repo.add(amendment)

    if data.vital_signs is not None:
        if assessment.vital_signs_id is not None:
            await clinical_service.update_vital_signs(session, assessment.vital_signs_id,
                                                      data.vital_signs)
        else:
            vitals = await clinical_service.record_vital_signs(
                session, patient_id=visit.patient_id, visit_id=visit.id,
                data=data.vital_signs, recorded_by=actor.user_id, recorded_at=now)
            assessment.vital_signs_id = vitals.id
    else:  # only a draft gets here: unlink (the measurement itself stays recorded)
        assessment.vital_signs_id = None

    pain = rows.pain
    if data.pain_assessment is not None:
        values = data.pain_assessment.model_dump()
        if pain is None:
            pain = PainAssessment(nursing_assessment_id=assessment.id, **values)
            await repo.add(pain)
        else:
            for key, value in values.items():
                setattr(pain, key, value)
    elif pain is not None:
        await repo.delete_pain(assessment.id)
        pain = None

    fall = rows.fall_risk
    if data.fall_risk_assessment is not None:
        values = _fall_values(data.fall_risk_assessment)
        if fall is None:
            fall = FallRiskAssessment(nursing_assessment_id=assessment.id, **values)
            await repo.add(fall)
        else:
            for key, value in values.items():
                setattr(fall, key, value)
    elif fall is not None:
        await repo.delete_fall_risk(assessment.id)
        fall = None

    assessment.notes = data.notes
    await session.flush()
    read = await _nursing_read(session, NursingRows(assessment, submission, pain, fall))
    changes: dict[str, Any] = {
        **audit.diff(_compare(before), _compare(_answers(read))),
        "version": {"before": expected, "after": submission.version},
    }
    if amendment is not None:
        changes["amendment_id"] = amendment.id
        changes["amendment_reason"] = data.amendment_reason
    await audit.record(session, AuditAction.UPDATE, "nursing_assessment", assessment.id,
                       patient_id=visit.patient_id, changes=changes)
    return read


# ---------------------------------------------------------------- SH.MR.FRM.04


def _age_years(born: date | None, today: date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _safety_violations(
    data: RadiologyAssessmentCreate, *, age_years: int | None, sex: str | None
) -> list[tuple[str, RuleViolation]]:
    """Contrast safety rules broken by ``data`` as ``(field, error)`` pairs (empty when
    none, or no contrast).

    Source: ACR Manual on Contrast Media 2024 (American College of Radiology).
    """
    if not data.contrast_used:
        return []
    out: list[tuple[str, RuleViolation]] = []
    if data.contrast_allergy and not data.premedication_confirmed:
        out.append(("premedication_confirmed", ContrastAllergyPremedicationRequired(
            "Known contrast allergy: confirm premedication (premedication_confirmed) "
            "or choose another study")))
    if data.contrast_type in (ContrastType.IODINATED, ContrastType.GADOLINIUM):
        egfr = data.egfr_ml_min_1_73m2
        estimated = False
        if egfr is None and data.serum_creatinine_mg_dl is not None and age_years is not None:
            egfr = egfr_ckd_epi_2021(data.serum_creatinine_mg_dl, age_years, sex or "")
            estimated = egfr is not None
        if egfr is not None and egfr < EGFR_RISK_THRESHOLD and not data.renal_risk_acknowledged:
            how = " (estimated from serum creatinine, CKD-EPI 2021)" if estimated else ""
            out.append(("renal_risk_acknowledged", ContrastRenalRiskUnacknowledged(
                f"eGFR below 30 mL/min/1.73 m²{how} with {data.contrast_type.value} contrast: "
                "set renal_risk_acknowledged to proceed")))
    if (data.contrast_type == ContrastType.GADOLINIUM
            and data.pregnancy_status == PregnancyStatus.PREGNANT
            and not data.pregnancy_risk_acknowledged):
        out.append(("pregnancy_risk_acknowledged", GadoliniumPregnancyUnacknowledged(
            "Gadolinium contrast in pregnancy: set pregnancy_risk_acknowledged to proceed")))
    return out


def _radiology_read(row: RadiologyAssessment, submission: FormSubmission
                    ) -> RadiologyAssessmentRead:
    return RadiologyAssessmentRead.model_validate({
        **{c.key: getattr(row, c.key) for c in RadiologyAssessment.__table__.columns},
        "patient_id": submission.patient_id,
        "submission": FormSubmissionRead.model_validate(submission),
    })


async def create_radiology_assessment(
    session: AsyncSession, actor: Principal, visit_id: uuid.UUID,
    data: RadiologyAssessmentCreate,
) -> RadiologyAssessmentRead:
    """Fill SH.MR.FRM.04 (one per study) for an open visit, screening contrast safety.

    With contrast: ``contrast_type``, ``contrast_agent``, ``contrast_allergy``,
    ``pregnancy_status`` and (iodinated, gadolinium, other) renal function are required.
    Then: a known contrast allergy needs ``premedication_confirmed``; eGFR < 30 mL/min/1.73 m²
    (given, or estimated by CKD-EPI 2021 from serum creatinine, age and sex) with iodinated
    or gadolinium contrast needs ``renal_risk_acknowledged``; gadolinium in pregnancy needs
    ``pregnancy_risk_acknowledged``.

    Args:
        visit_id: an open or in-progress visit.
        data: the form; eGFR in mL/min/1.73 m², creatinine in mg/dL.

    Returns:
        The stored form with its submission (status completed, version 1).

    Raises:
        NotFound (404): no such visit, or outside the actor's ``visit:read`` scope.
        VisitClosed (409): the visit is closed or cancelled.
        ValidationFailed (422): screening fields missing or contradictory, or
            ``pregnant`` for a male patient (one error per field).
        ContrastAllergyPremedicationRequired, ContrastRenalRiskUnacknowledged,
            GadoliniumPregnancyUnacknowledged (422, each its own ``code``): a safety rule
            not acknowledged; ``errors`` lists every broken rule.

    Source: ACR Manual on Contrast Media 2024 (American College of Radiology); Inker LA et
    al. (2021) N Engl J Med 385:1737-1749 (CKD-EPI 2021).
    """
    visit = await visits_service.require_open_visit(session, visit_id, actor=actor)
    errors = data.screening_errors()
    patient = await patients_service.get_summary(session, visit.patient_id)
    if data.pregnancy_status == PregnancyStatus.PREGNANT and patient.gender == "male":
        errors.append({"field": "pregnancy_status", "in": "body", "type": "value_error",
                       "message": "a male patient cannot be pregnant"})
    if errors:
        fields = ", ".join(e["field"] for e in errors)
        raise ValidationFailed(f"Incomplete or contradictory radiology assessment: {fields}",
                               errors=errors)
    violations = _safety_violations(
        data, age_years=_age_years(patient.date_of_birth, utcnow().date()),
        sex=patient.gender)
    if violations:
        first = violations[0][1]
        first.errors = [{"field": field, "in": "body", "type": "rule_violation",
                         "code": v.code, "message": v.detail} for field, v in violations]
        raise first
    now = utcnow()
    submission = FormSubmission(
        visit_id=visit.id, patient_id=visit.patient_id, form_code=RADIOLOGY_FORM_CODE,
        form_version=FORM_VERSION, status=FormStatus.COMPLETED.value,
        submitted_by=actor.user_id, submitted_at=now, updated_by=actor.user_id,
        updated_at=now, version=1,
    )
    repo = FormRepository(session)
    await repo.add(submission)
    values = data.model_dump(mode="json")
    row = RadiologyAssessment(submission_id=submission.id, visit_id=visit.id,
                              assessed_by=actor.user_id, assessed_at=now, **values)
    await repo.add(row)
    await audit.record(
        session, AuditAction.CREATE, "radiology_assessment", row.id,
        patient_id=visit.patient_id,
        changes={"after": {
            "submission_id": submission.id, "form_code": RADIOLOGY_FORM_CODE,
            **{k: values[k] for k in (
                "modality", "body_region", "contrast_used", "contrast_type",
                "contrast_allergy", "egfr_ml_min_1_73m2", "serum_creatinine_mg_dl",
                "pregnancy_status", "premedication_confirmed", "renal_risk_acknowledged",
                "pregnancy_risk_acknowledged")},
        }},
    )
    return _radiology_read(row, submission)


async def list_radiology_assessments(
    session: AsyncSession, actor: Principal, visit_id: uuid.UUID, page: PageParams
) -> Page[RadiologyAssessmentRead]:
    """The visit's SH.MR.FRM.04 forms, newest first (one audited read per form returned;
    closed visits too).

    Raises:
        NotFound (404): no such visit, or outside the actor's ``visit:read`` scope.
    """
    await visits_service.get_visit(session, visit_id, actor=actor)
    rows, total = await FormRepository(session).radiology_for_visit(
        visit_id, offset=page.offset, limit=page.page_size)
    items = [_radiology_read(r, s) for r, s in rows]
    await audit.record_reads(session, "radiology_assessment",
                             [(i.id, i.patient_id) for i in items])
    return Page[RadiologyAssessmentRead](items=items, total=total, page=page.page,
                                         page_size=page.page_size)


# ---------------------------------------------------------------- for other modules


async def summaries_for_visits(
    session: AsyncSession, visit_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[FormSubmissionRead]]:
    """Form submissions grouped by visit id, newest first (one query). The caller audits
    (e.g. the patient history view).

    Args:
        visit_ids: visits to look up; each appears in the result, possibly with ``[]``.

    Returns:
        ``{visit_id: [FormSubmissionRead, ...]}``.
    """
    out: dict[uuid.UUID, list[FormSubmissionRead]] = {v: [] for v in visit_ids}
    for row in await FormRepository(session).submissions_for_visits(visit_ids):
        out.setdefault(row.visit_id, []).append(FormSubmissionRead.model_validate(row))
    return out


async def forms_of_patient(
    session: AsyncSession, patient_id: uuid.UUID
) -> tuple[list[NursingAssessmentRead], list[RadiologyAssessmentRead]]:
    """Every SH.MR.FRM.05 (with its vital signs and amendment history) and every
    SH.MR.FRM.04 of a patient, oldest first, in a constant number of queries (for the
    patient's data export). The caller audits.

    Returns:
        ``(nursing_assessments, radiology_assessments)``.
    """
    repo = FormRepository(session)
    nursing_rows = await repo.nursing_for_patient(patient_id)
    radiology_rows = await repo.radiology_for_patient(patient_id)
    vitals: dict[uuid.UUID, VitalSignsRead] = {}
    if any(rows.assessment.vital_signs_id for rows in nursing_rows):
        all_vitals, _ = await clinical_service.clinical_record_of_patient(session, patient_id)
        vitals = {v.id: v for v in all_vitals}
    amendments: dict[uuid.UUID, list[FormAmendmentRead]] = {}
    for a in await repo.amendments_of([rows.submission.id for rows in nursing_rows]):
        amendments.setdefault(a.submission_id, []).append(FormAmendmentRead.model_validate(a))
    nursing = [
        NursingAssessmentRead(
            id=rows.assessment.id,
            visit_id=rows.assessment.visit_id,
            patient_id=rows.submission.patient_id,
            submission=FormSubmissionRead.model_validate(rows.submission),
            vital_signs=(vitals.get(rows.assessment.vital_signs_id)
                         if rows.assessment.vital_signs_id else None),
            pain_assessment=(PainAssessmentRead.model_validate(rows.pain)
                             if rows.pain else None),
            fall_risk_assessment=(FallRiskRead.model_validate(rows.fall_risk)
                                  if rows.fall_risk else None),
            notes=rows.assessment.notes,
            assessed_by=rows.assessment.assessed_by,
            assessed_at=rows.assessment.assessed_at,
            amendments=amendments.get(rows.submission.id, []),
        )
        for rows in nursing_rows
    ]
    return nursing, [_radiology_read(r, sub) for r, sub in radiology_rows]
