"""SQL on the forms module's tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hms.forms.models import (
    FallRiskAssessment,
    FormAmendment,
    FormSubmission,
    NursingAssessment,
    PainAssessment,
    RadiologyAssessment,
)


@dataclass(slots=True)
class NursingRows:
    """One SH.MR.FRM.05 and its parts."""

    assessment: NursingAssessment
    submission: FormSubmission
    pain: PainAssessment | None
    fall_risk: FallRiskAssessment | None


class FormRepository:
    """Form submissions, amendments, nursing and radiology assessments."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *rows: Any) -> None:
        """Insert rows and flush (constraint errors surface here)."""
        self.session.add_all(rows)
        await self.session.flush()

    async def nursing_for_visit(self, visit_id: uuid.UUID) -> NursingRows | None:
        """The visit's nursing assessment with its submission, pain and fall-risk rows
        (one query)."""
        stmt = (
            select(NursingAssessment, FormSubmission, PainAssessment, FallRiskAssessment)
            .join(FormSubmission, FormSubmission.id == NursingAssessment.submission_id)
            .outerjoin(PainAssessment,
                       PainAssessment.nursing_assessment_id == NursingAssessment.id)
            .outerjoin(FallRiskAssessment,
                       FallRiskAssessment.nursing_assessment_id == NursingAssessment.id)
            .where(NursingAssessment.visit_id == visit_id)
        )
        row = (await self.session.execute(stmt)).first()
        if row is None:
            return None
        return NursingRows(row[0], row[1], row[2], row[3])

    async def amendments(self, submission_id: uuid.UUID) -> list[FormAmendment]:
        """Amendments of a submission, oldest first."""
        stmt = (select(FormAmendment).where(FormAmendment.submission_id == submission_id)
                .order_by(FormAmendment.previous_version))
        return list(await self.session.scalars(stmt))

    async def bump_version(
        self,
        submission: FormSubmission,
        *,
        expected_version: int,
        status: str,
        updated_by: uuid.UUID | None,
        now: datetime,
    ) -> bool:
        """Conditionally move a submission to ``expected_version + 1``.

        A single ``UPDATE ... WHERE version = :expected``: of two concurrent editors holding
        the same version exactly one matches a row, the other gets False.

        Returns:
            True when the row was updated (``submission`` is refreshed), False when the
            version no longer matched.
        """
        result = await self.session.execute(
            update(FormSubmission)
            .where(FormSubmission.id == submission.id,
                   FormSubmission.version == expected_version)
            .values(version=expected_version + 1, status=status, updated_by=updated_by,
                    updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        await self.session.refresh(submission)
        return True

    async def delete_pain(self, nursing_assessment_id: uuid.UUID) -> None:
        """Remove a draft's pain section."""
        await self.session.execute(
            delete(PainAssessment)
            .where(PainAssessment.nursing_assessment_id == nursing_assessment_id)
            .execution_options(synchronize_session="fetch"))

    async def delete_fall_risk(self, nursing_assessment_id: uuid.UUID) -> None:
        """Remove a draft's fall-risk section."""
        await self.session.execute(
            delete(FallRiskAssessment)
            .where(FallRiskAssessment.nursing_assessment_id == nursing_assessment_id)
            .execution_options(synchronize_session="fetch"))

    async def radiology_for_visit(
        self, visit_id: uuid.UUID, *, offset: int, limit: int
    ) -> tuple[list[tuple[RadiologyAssessment, FormSubmission]], int]:
        """A page of the visit's radiology assessments, newest first, and the total."""
        total = await self.session.scalar(
            select(func.count()).select_from(RadiologyAssessment)
            .where(RadiologyAssessment.visit_id == visit_id))
        stmt = (
            select(RadiologyAssessment, FormSubmission)
            .join(FormSubmission, FormSubmission.id == RadiologyAssessment.submission_id)
            .where(RadiologyAssessment.visit_id == visit_id)
            .order_by(RadiologyAssessment.assessed_at.desc(), RadiologyAssessment.id.desc())
            .offset(offset).limit(limit)
        )
        rows = (await self.session.execute(stmt)).all()
        return [(r[0], r[1]) for r in rows], int(total or 0)

    async def submissions_for_visits(
        self, visit_ids: Sequence[uuid.UUID]
    ) -> list[FormSubmission]:
        """Every submission of the given visits, newest first (one query)."""
        if not visit_ids:
            return []
        stmt = (select(FormSubmission).where(FormSubmission.visit_id.in_(list(visit_ids)))
                .order_by(FormSubmission.submitted_at.desc(), FormSubmission.id))
        return list(await self.session.scalars(stmt))

    async def nursing_for_patient(self, patient_id: uuid.UUID) -> list[NursingRows]:
        """Every nursing assessment of a patient with its parts, oldest first (one query
        through the indexed ``form_submissions.patient_id``)."""
        stmt = (
            select(NursingAssessment, FormSubmission, PainAssessment, FallRiskAssessment)
            .join(FormSubmission, FormSubmission.id == NursingAssessment.submission_id)
            .outerjoin(PainAssessment,
                       PainAssessment.nursing_assessment_id == NursingAssessment.id)
            .outerjoin(FallRiskAssessment,
                       FallRiskAssessment.nursing_assessment_id == NursingAssessment.id)
            .where(FormSubmission.patient_id == patient_id)
            .order_by(FormSubmission.submitted_at, FormSubmission.id)
        )
        return [NursingRows(r[0], r[1], r[2], r[3])
                for r in (await self.session.execute(stmt)).all()]

    async def radiology_for_patient(
        self, patient_id: uuid.UUID
    ) -> list[tuple[RadiologyAssessment, FormSubmission]]:
        """Every radiology assessment of a patient with its submission, oldest first."""
        stmt = (
            select(RadiologyAssessment, FormSubmission)
            .join(FormSubmission, FormSubmission.id == RadiologyAssessment.submission_id)
            .where(FormSubmission.patient_id == patient_id)
            .order_by(RadiologyAssessment.assessed_at, RadiologyAssessment.id)
        )
        return [(r[0], r[1]) for r in (await self.session.execute(stmt)).all()]

    async def amendments_of(self, submission_ids: Sequence[uuid.UUID]) -> list[FormAmendment]:
        """Amendments of several submissions, oldest first (queried in chunks of 1000)."""
        ids = list(dict.fromkeys(submission_ids))
        out: list[FormAmendment] = []
        for i in range(0, len(ids), 1000):
            stmt = (select(FormAmendment)
                    .where(FormAmendment.submission_id.in_(ids[i:i + 1000]))
                    .order_by(FormAmendment.submission_id, FormAmendment.previous_version))
            out.extend(await self.session.scalars(stmt))
        return out

    # ------------------------------------------------------------ statistics

    async def count_by_code_and_status(
        self, start: datetime | None, end: datetime | None
    ) -> list[tuple[str, str, int]]:
        """``(form_code, status, count)`` of submissions made in ``[start, end)``."""
        stmt = select(FormSubmission.form_code, FormSubmission.status, func.count()).group_by(
            FormSubmission.form_code, FormSubmission.status)
        stmt = _window(stmt, start, end)
        return [(r[0], r[1], int(r[2])) for r in (await self.session.execute(stmt)).all()]

    async def fall_risk_band_counts(
        self, start: datetime | None, end: datetime | None
    ) -> list[tuple[str, int]]:
        """``(risk_level, count)`` over non-draft nursing assessments submitted in the window."""
        stmt = (
            select(FallRiskAssessment.risk_level, func.count())
            .join(NursingAssessment,
                  NursingAssessment.id == FallRiskAssessment.nursing_assessment_id)
            .join(FormSubmission, FormSubmission.id == NursingAssessment.submission_id)
            .where(FormSubmission.status != "draft")
            .group_by(FallRiskAssessment.risk_level)
        )
        stmt = _window(stmt, start, end)
        return [(r[0], int(r[1])) for r in (await self.session.execute(stmt)).all()]

    async def pain_score_counts(
        self, start: datetime | None, end: datetime | None
    ) -> list[tuple[int, int]]:
        """``(pain_score, count)`` over non-draft nursing assessments submitted in the window."""
        stmt = (
            select(PainAssessment.pain_score, func.count())
            .join(NursingAssessment,
                  NursingAssessment.id == PainAssessment.nursing_assessment_id)
            .join(FormSubmission, FormSubmission.id == NursingAssessment.submission_id)
            .where(FormSubmission.status != "draft")
            .group_by(PainAssessment.pain_score)
        )
        stmt = _window(stmt, start, end)
        return [(int(r[0]), int(r[1])) for r in (await self.session.execute(stmt)).all()]

    async def count_visits_in_band(
        self, visit_ids: Sequence[uuid.UUID] | Select[uuid.UUID], band: str
    ) -> int:
        """How many of ``visit_ids`` have a non-draft nursing assessment in ``band``.

        Args:
            visit_ids: listed (queried in chunks of 1000 ids to stay under driver parameter
                limits) or a statement selecting them (one query, as a subquery).
        """
        def count(ids: Sequence[uuid.UUID] | Select[uuid.UUID]) -> Select[int]:
            return (
                select(func.count())
                .select_from(NursingAssessment)
                .join(FallRiskAssessment,
                      FallRiskAssessment.nursing_assessment_id == NursingAssessment.id)
                .join(FormSubmission, FormSubmission.id == NursingAssessment.submission_id)
                .where(NursingAssessment.visit_id.in_(ids),
                       FallRiskAssessment.risk_level == band,
                       FormSubmission.status != "draft")
            )

        if isinstance(visit_ids, Select):
            return int(await self.session.scalar(count(visit_ids)) or 0)
        ids = list(dict.fromkeys(visit_ids))
        total = 0
        for i in range(0, len(ids), 1000):
            total += int(await self.session.scalar(count(ids[i:i + 1000])) or 0)
        return total


def _window(stmt: Any, start: datetime | None, end: datetime | None) -> Any:
    if start is not None:
        stmt = stmt.where(FormSubmission.submitted_at >= start)
    if end is not None:
        stmt = stmt.where(FormSubmission.submitted_at < end)
    return stmt
