"""Insurance providers (seed 004 sections 6 and 9): CRUD, search, validation, the
insurance_provider_in_use rule, permissions and the cross-module look-ups."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from hms.audit.models import AuditEvent
from hms.core.errors import RuleViolation
from hms.core.permissions import Role
from hms.organization import service
from tests.identity.factories import auth_headers
from tests.organization.factories import make_insurance_provider
from tests.organization.test_departments import PROBLEM, assert_problem


@pytest.fixture
async def admin(client, session):
    return await auth_headers(client, session, Role.ADMIN)


async def test_crud(client, session, admin):
    resp = await client.post("/api/v1/insurance-providers", headers=admin, json={
        "name": "Nile Health", "contact_person": "Sam Contact", "phone": "+20 2 555 0100",
        "email": "Claims@Nile.example", "address": "1 River Rd", "coverage_policy": "80%"})
    assert resp.status_code == 201, resp.text
    prov = resp.json()
    assert prov["email"] == "claims@nile.example"
    upd = await client.put(f"/api/v1/insurance-providers/{prov['id']}", headers=admin,
                           json={"coverage_policy": "90% outpatient", "address": None})
    assert upd.status_code == 200
    assert upd.json()["coverage_policy"] == "90% outpatient"
    assert upd.json()["address"] is None and upd.json()["name"] == "Nile Health"
    await make_insurance_provider(session, "Delta Care")
    page = (await client.get("/api/v1/insurance-providers", headers=admin,
                             params={"name": "nile"})).json()
    assert [p["name"] for p in page["items"]] == ["Nile Health"]
    page = (await client.get("/api/v1/insurance-providers", headers=admin,
                             params={"sort": "name"})).json()
    assert [p["name"] for p in page["items"]] == ["Delta Care", "Nile Health"]
    resp = await client.delete(f"/api/v1/insurance-providers/{prov['id']}", headers=admin)
    assert resp.status_code == 204
    gone = await client.get(f"/api/v1/insurance-providers/{prov['id']}", headers=admin)
    assert_problem(gone, 404, "not_found")
    actions = sorted((await session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "insurance_provider",
        AuditEvent.entity_id == prov["id"]))).all())
    assert actions == ["create", "delete", "update"]


@pytest.mark.parametrize("body", [
    {"name": "X", "email": "not-an-email"},
    {"name": "X", "phone": "call me"},
    {"name": "X", "coverage_policy": "y" * 4001},
    {"name": "X", "unknown": 1},
])
async def test_invalid_fields_are_422(client, admin, body):
    resp = await client.post("/api/v1/insurance-providers", headers=admin, json=body)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith(PROBLEM)


async def test_duplicate_name_is_409(client, session, admin):
    await make_insurance_provider(session, "Acme Insurance")
    resp = await client.post("/api/v1/insurance-providers", headers=admin,
                             json={"name": "acme insurance"})
    assert_problem(resp, 409, "name_taken")


async def test_delete_provider_referenced_by_patient_is_409(client, session, admin):
    """Rule insurance_provider_in_use: patients' foreign key refuses the delete."""
    from hms.patients.models import Patient
    from tests.patients.factories import make_patient

    if not hasattr(Patient, "insurance_provider_id"):
        pytest.skip("patients.insurance_provider_id not there yet (part B)")
    prov = await make_insurance_provider(session)
    patient = await make_patient(session)
    await session.execute(update(Patient).where(Patient.id == patient.id)
                          .values(insurance_provider_id=prov.id))
    await session.commit()
    resp = await client.delete(f"/api/v1/insurance-providers/{prov.id}", headers=admin)
    body = assert_problem(resp, 409, "insurance_provider_in_use")
    assert "insurance_provider_in_use" in body["detail"]
    still = await client.get(f"/api/v1/insurance-providers/{prov.id}", headers=admin)
    assert still.status_code == 200


async def test_permissions(client, session):
    receptionist = await auth_headers(client, session, Role.RECEPTIONIST)
    assert (await client.get("/api/v1/insurance-providers",
                             headers=receptionist)).status_code == 200
    resp = await client.post("/api/v1/insurance-providers", headers=receptionist,
                             json={"name": "Nope"})
    assert_problem(resp, 403, "forbidden")
    nurse = await auth_headers(client, session, Role.NURSE)
    resp = await client.get("/api/v1/insurance-providers", headers=nurse)
    assert_problem(resp, 403, "forbidden")


async def test_cross_module_lookups(session):
    a = await make_insurance_provider(session)
    assert (await service.require_insurance_provider(session, a.id)).name == a.name
    with pytest.raises(RuleViolation) as exc:
        await service.require_insurance_provider(session, uuid.uuid4())
    assert exc.value.code == "insurance_provider_not_found"
    assert exc.value.errors and exc.value.errors[0]["field"] == "insurance_provider_id"
    found = await service.insurance_providers_by_ids(session, {a.id, uuid.uuid4()})
    assert list(found) == [a.id]
