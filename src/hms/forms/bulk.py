"""Bulk loading of SH.MR.FRM.05 nursing assessments for tools (``hms generate``), exposed
through :mod:`hms.forms.service`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from hms.db.bulk import insert_rows
from hms.forms.models import FallRiskAssessment, FormSubmission, NursingAssessment, PainAssessment
from hms.forms.schemas import FORM_VERSION, NURSING_FORM_CODE
from hms.forms.scoring import morse_fall_score, morse_risk_band

_MORSE_ITEMS = ("history_of_falling", "secondary_diagnosis", "ambulatory_aid", "iv_therapy",
                "gait", "mental_status")


async def bulk_load_nursing_assessments(session: AsyncSession,
                                        rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert completed SH.MR.FRM.05 forms: the submission, the assessment, its pain and
    Morse fall-risk rows (the Morse total and band are computed here, as the API does).

    Args:
        rows: one mapping per form: ``visit_id``, ``patient_id``, ``assessed_at`` (aware
            UTC), ``vital_signs_id`` (already loaded, or None), ``notes``, ``pain`` (the
            ``pain_assessment`` columns: ``pain_score`` 0-10, ``site``, ...) and ``fall``
            (the six Morse items).

    Returns:
        The number of forms inserted.

    Source: Morse JM, Morse RM, Tylko SJ (1989), Can J Aging 8(4):366-377.
    """
    submissions, assessments, pains, falls = [], [], [], []
    for row in rows:
        at = row["assessed_at"]
        submission_id, assessment_id = uuid.uuid4(), uuid.uuid4()
        submissions.append({
            "id": submission_id, "visit_id": row["visit_id"], "patient_id": row["patient_id"],
            "form_code": NURSING_FORM_CODE, "form_version": FORM_VERSION,
            "status": "completed", "submitted_by": row.get("assessed_by"),
            "submitted_at": at, "updated_by": row.get("assessed_by"), "updated_at": at,
            "version": 1})
        assessments.append({
            "id": assessment_id, "submission_id": submission_id, "visit_id": row["visit_id"],
            "vital_signs_id": row.get("vital_signs_id"), "notes": row.get("notes"),
            "assessed_by": row.get("assessed_by"), "assessed_at": at})
        pains.append({"id": uuid.uuid4(), "nursing_assessment_id": assessment_id,
                      **row["pain"]})
        items = {k: row["fall"][k] for k in _MORSE_ITEMS}
        total = morse_fall_score(**items)
        falls.append({"id": uuid.uuid4(), "nursing_assessment_id": assessment_id, **items,
                      "total_score": total, "risk_level": morse_risk_band(total).value})
    await insert_rows(session, cast(Table, FormSubmission.__table__), submissions)
    await insert_rows(session, cast(Table, NursingAssessment.__table__), assessments)
    await insert_rows(session, cast(Table, PainAssessment.__table__), pains)
    await insert_rows(session, cast(Table, FallRiskAssessment.__table__), falls)
    return len(submissions)
