"""A small clinical day over HTTP, for the export and erasure tests (synthetic data only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from hms.core.permissions import Role
from tests.documents.factories import make_pdf, upload
from tests.forms.factories import submit_nursing
from tests.identity.factories import auth_headers
from tests.patients.factories import seed_payload


@dataclass
class Day:
    """What :func:`clinical_day` created."""

    admin: dict[str, str]
    nurse: dict[str, str]
    physician: dict[str, str]
    patient: dict[str, Any]
    visit: dict[str, Any]
    nursing: dict[str, Any]
    document: dict[str, Any]


async def clinical_day(client: AsyncClient, session: AsyncSession) -> Day:
    """A nurse registers a patient, opens a visit, fills SH.MR.FRM.05 and uploads a scan; a
    physician reads the visit and records a coded diagnosis."""
    admin = await auth_headers(client, session, Role.ADMIN)
    nurse = await auth_headers(client, session, Role.NURSE)
    physician = await auth_headers(client, session, Role.PHYSICIAN)
    resp = await client.post("/api/v1/patients", headers=nurse, json=seed_payload())
    assert resp.status_code == 201, resp.text
    patient = resp.json()
    resp = await client.post("/api/v1/visits", headers=nurse, json={
        "patient_id": patient["id"], "chief_complaint": "Productive cough for a week",
        "department": "Internal Medicine"})
    assert resp.status_code == 201, resp.text
    visit = resp.json()
    nursing = await submit_nursing(client, nurse, visit["id"])
    resp = await upload(client, visit["id"], nurse, make_pdf(), filename="referral.pdf",
                        content_type="application/pdf")
    assert resp.status_code == 201, resp.text
    document = resp.json()
    current = (await client.get(f"/api/v1/visits/{visit['id']}", headers=physician)).json()
    resp = await client.put(f"/api/v1/visits/{visit['id']}", headers=physician, json={
        "diagnosis": "Community-acquired pneumonia", "icd10_code": "J18.9",
        "version": current["version"]})
    assert resp.status_code == 200, resp.text
    return Day(admin, nurse, physician, patient, resp.json(), nursing, document)
