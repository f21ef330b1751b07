"""Assessment statistics for the reports module: forms filled, Morse fall-risk bands, pain
scores and out-of-range vital signs. Counts only (no patient identifiers)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.clinical import stats as clinical_stats
from hms.forms.repository import FormRepository
from hms.forms.schemas import NURSING_FORM_CODE, RADIOLOGY_FORM_CODE, FormStatus
from hms.forms.scoring import FallRiskBand

FORM_CODES: tuple[str, ...] = (NURSING_FORM_CODE, RADIOLOGY_FORM_CODE)


async def assessment_statistics(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    """What the forms filled in ``[start, end)`` (UTC, by submission time) found.

    Args:
        start: first instant counted, or None for no lower bound.
        end: first instant no longer counted, or None for no upper bound.

    Returns:
        ``{"forms": {form_code: {status: n}}`` (both form codes and every status listed),
        ``"forms_total": n``,
        ``"fall_risk_bands": {"low": n, "moderate": n, "high": n}`` and
        ``"pain_scores": {"0": n, ..., "10": n}`` over non-draft nursing assessments,
        ``"out_of_range_vitals"``: :func:`hms.clinical.stats.out_of_range_counts` over vital
        signs recorded in the window (per rule, ``total``, ``sets_with_any``,
        ``sets_recorded``)}.

    Source: Morse Fall Scale bands low 0-24 / moderate 25-44 / high 45+ (Morse JM, Morse
    RM, Tylko SJ (1989), Can J Aging 8(4):366-377); 0-10 numeric rating scale for pain.
    """
    repo = FormRepository(session)
    forms: dict[str, dict[str, int]] = {code: {s.value: 0 for s in FormStatus}
                                        for code in FORM_CODES}
    for code, status, n in await repo.count_by_code_and_status(start, end):
        forms.setdefault(code, {s.value: 0 for s in FormStatus})[status] = n
    bands = {b.value: 0 for b in FallRiskBand}
    for band, n in await repo.fall_risk_band_counts(start, end):
        bands[band] = n
    pain = {str(score): 0 for score in range(11)}
    for score, n in await repo.pain_score_counts(start, end):
        pain[str(score)] = n
    return {
        "forms": forms,
        "forms_total": sum(sum(v.values()) for v in forms.values()),
        "fall_risk_bands": bands,
        "pain_scores": pain,
        "out_of_range_vitals": await clinical_stats.out_of_range_counts(session, start, end),
    }


async def high_fall_risk_visit_count(
    session: AsyncSession, visit_ids: Sequence[uuid.UUID] | Select[uuid.UUID]
) -> int:
    """How many of ``visit_ids`` have a non-draft nursing assessment in the Morse ``high``
    band (45 and above).

    Args:
        visit_ids: the visits, listed or as a statement selecting their ids (e.g.
            :func:`hms.visits.stats.active_visit_ids`; counted in one query).

    Source: Morse JM, Morse RM, Tylko SJ (1989), Can J Aging 8(4):366-377.
    """
    return await FormRepository(session).count_visits_in_band(visit_ids,
                                                              FallRiskBand.HIGH.value)
