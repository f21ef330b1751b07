"""Request bodies and builders for forms tests (synthetic data only)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from httpx import AsyncClient

# Morse items scoring 25 + 15 + 15 + 20 + 10 + 15 = 100 (high).
HIGH_RISK_FALL: dict[str, Any] = {
    "history_of_falling": True,
    "secondary_diagnosis": True,
    "ambulatory_aid": "walker",
    "iv_therapy": True,
    "gait": "weak",
    "mental_status": "forgets_limitations",
}

LOW_RISK_FALL: dict[str, Any] = {
    "history_of_falling": False,
    "secondary_diagnosis": False,
    "ambulatory_aid": "none",
    "iv_therapy": False,
    "gait": "normal",
    "mental_status": "oriented_to_own_ability",
}

NORMAL_VITALS: dict[str, Any] = {
    "temperature_celsius": 36.8,
    "pulse_bpm": 78,
    "blood_pressure_systolic": 122,
    "blood_pressure_diastolic": 78,
    "respiratory_rate_per_min": 16,
    "oxygen_saturation_percent": 98.0,
    "weight_kg": 70.0,
    "height_cm": 175.0,
}


def nursing_body(**overrides: Any) -> dict[str, Any]:
    """A complete SH.MR.FRM.05 body (Morse 100, BMI 22.9); ``overrides`` replace sections."""
    body: dict[str, Any] = {
        "vital_signs": copy.deepcopy(NORMAL_VITALS),
        "pain_assessment": {"pain_score": 4, "site": "lower back", "character": "dull",
                            "onset": "gradual", "duration": "3 days"},
        "fall_risk_assessment": copy.deepcopy(HIGH_RISK_FALL),
        "notes": "Alert, ambulating with walker.",
    }
    body.update(overrides)
    return body


def radiology_body(**overrides: Any) -> dict[str, Any]:
    """A SH.MR.FRM.04 body without contrast; ``overrides`` replace fields."""
    body: dict[str, Any] = {
        "modality": "CT",
        "body_region": "Chest",
        "clinical_indication": "Persistent cough, rule out pneumonia",
        "findings": "No consolidation.",
        "impression": "Normal chest CT.",
        "recommendation": "No follow-up imaging needed.",
    }
    body.update(overrides)
    return body


def contrast_body(**overrides: Any) -> dict[str, Any]:
    """A SH.MR.FRM.04 body with iodinated contrast and a clean safety screening."""
    body = radiology_body(
        contrast_used=True, contrast_type="iodinated", contrast_agent="iohexol",
        contrast_allergy=False, egfr_ml_min_1_73m2=85.0, pregnancy_status="not_applicable",
    )
    body.update(overrides)
    return body


async def submit_nursing(client: AsyncClient, headers: dict[str, str], visit_id: uuid.UUID,
                         **overrides: Any) -> dict[str, Any]:
    """POST a complete nursing assessment and return the response body (asserts 201)."""
    resp = await client.post(f"/api/v1/visits/{visit_id}/nursing-assessment",
                             headers=headers, json=nursing_body(**overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()
