"""``GET /api/v1/patients/{ref}`` on committed data, the way a server runs it (issue 5): a
caller whose ``patient:read`` reaches every patient is read without a request session on
PostgreSQL (``service.read_patient``); a department-scoped caller, and every caller on
SQLite, through the request's session (``service.get_patient``). Both must answer the same
JSON, refuse the same callers and leave the same committed audit row."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event, select

from hms.audit import service as audit_service
from hms.audit.models import AuditEvent
from hms.core.permissions import Role, default_grants
from hms.identity.principal_cache import CachedAuthenticator, PrincipalCache, PrincipalListener
from hms.patients import service
from hms.patients.schemas import IdentifierAccess
from tests.identity.factories import login, make_user, set_user_columns
from tests.patients.factories import make_patient
from tests.visits.factories import make_visit


async def _client_headers(client: AsyncClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {(await login(client, username))['access_token']}"}


async def _patient_reads(db, patient_id: uuid.UUID) -> list[AuditEvent]:
    async with db.sessionmaker() as s:
        return list(await s.scalars(
            select(AuditEvent).where(AuditEvent.entity_type == "patient",
                                     AuditEvent.action == "read",
                                     AuditEvent.entity_id == str(patient_id))
            .order_by(AuditEvent.seq)))


@pytest.fixture
async def people(db):
    """A receptionist (full identifiers), a billing officer (masked) and a patient with
    every identifier and contact field, all committed."""
    async with db.sessionmaker() as s:
        receptionist = await make_user(s, Role.RECEPTIONIST)
        billing = await make_user(s, Role.BILLING_OFFICER)
        pharmacist = await make_user(s, Role.PHARMACIST)
        patient = await make_patient(s, email="rania.k@example.org", phone="0223456789",
                                     address_line="12 Tahrir St", city="Cairo")
        await s.commit()
    return {"receptionist": receptionist, "billing": billing, "pharmacist": pharmacist,
            "patient": patient}


async def test_every_reference_answers_what_the_service_presents(committed_app, db, people):
    patient = people["patient"]
    bodies = {}
    async with AsyncClient(transport=ASGITransport(app=committed_app),
                           base_url="http://testserver") as c:
        for who, access in (("receptionist", IdentifierAccess.FULL),
                            ("billing", IdentifierAccess.MASKED)):
            headers = await _client_headers(c, people[who].username)
            async with db.sessionmaker() as s:
                expected = await service.get_patient(s, patient.patient_number, access=access)
            for ref in (str(patient.id), patient.patient_number,
                        patient.patient_number.lower(), patient.national_id):
                resp = await c.get(f"/api/v1/patients/{ref}", headers=headers)
                assert resp.status_code == 200, resp.text
                assert resp.headers["content-type"] == "application/json"
                assert resp.headers["etag"] == f'W/"{expected.version}"'
                assert resp.json() == expected.model_dump(mode="json"), (who, ref)
            bodies[who] = resp.json()
    assert bodies["receptionist"]["national_id"] == patient.national_id
    assert bodies["receptionist"]["identifiers"] == "full"
    assert bodies["billing"]["identifiers"] == "masked"
    assert bodies["billing"]["national_id"] != patient.national_id
    assert bodies["billing"]["national_id"].endswith(patient.national_id[-4:])


async def test_each_read_leaves_its_committed_audit_row_and_the_chain_holds(
        committed_app, db, people):
    patient = people["patient"]
    async with AsyncClient(transport=ASGITransport(app=committed_app),
                           base_url="http://testserver") as c:
        full = await c.get(f"/api/v1/patients/{patient.patient_number}",
                           headers=await _client_headers(c, people["receptionist"].username))
        masked = await c.get(f"/api/v1/patients/{patient.id}",
                             headers=await _client_headers(c, people["billing"].username))
    assert full.status_code == masked.status_code == 200
    rows = await _patient_reads(db, patient.id)
    assert [(r.username, r.changes, r.request_id, r.patient_id) for r in rows] == [
        (people["receptionist"].username, {"identifiers": "full"},
         full.headers["x-request-id"], patient.id),
        (people["billing"].username, {"identifiers": "masked"},
         masked.headers["x-request-id"], patient.id),
    ]
    assert [r.user_id for r in rows] == [people["receptionist"].id, people["billing"].id]
    async with db.sessionmaker() as s:
        assert (await audit_service.verify_chain(s)).ok


async def test_refusals_and_unknown_patients_leave_no_read_row(committed_app, db, people):
    patient = people["patient"]
    url = f"/api/v1/patients/{patient.id}"
    async with AsyncClient(transport=ASGITransport(app=committed_app),
                           base_url="http://testserver") as c:
        receptionist = await _client_headers(c, people["receptionist"].username)
        pharmacist = await _client_headers(c, people["pharmacist"].username)
        cases = [
            (await c.get(url), 401, "unauthorized"),
            (await c.get(url, headers={"Authorization": "Bearer not-a-token"}), 401,
             "unauthorized"),
            (await c.get(url, headers=pharmacist), 403, "forbidden"),
            (await c.get(f"/api/v1/patients/{uuid.uuid4()}", headers=receptionist), 404,
             "patient_not_found"),
            (await c.get("/api/v1/patients/PT-19000101-9999", headers=receptionist), 404,
             "patient_not_found"),
        ]
        async with db.sessionmaker() as s:
            await set_user_columns(s, people["receptionist"].id, must_change_password=True)
        restricted = await c.get(url, headers=receptionist)
    for resp, status, code in cases:
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["code"] == code
    assert restricted.status_code == 403
    assert restricted.json()["code"] == "password_change_required"
    assert await _patient_reads(db, patient.id) == []


async def test_a_department_scoped_caller_reads_only_its_departments_patients(
        committed_app, db):
    async with AsyncClient(transport=ASGITransport(app=committed_app),
                           base_url="http://testserver") as c:
        async with db.sessionmaker() as s:
            admin = await make_user(s, Role.SUPER_ADMIN)
            nurse = await make_user(s, Role.NURSE, department="Cardiology")
            own = await make_patient(s, full_name="Own Ward-Patient")
            await make_visit(s, own.id, department="Cardiology")
            other = await make_patient(s, full_name="Other Ward-Patient")
            await make_visit(s, other.id, department="Radiology")
            await s.commit()
        admin_headers = await _client_headers(c, admin.username)
        grants = [g.replace(":all", ":department") for g in default_grants(Role.NURSE)]
        resp = await c.put("/api/v1/admin/roles/nurse/permissions", headers=admin_headers,
                           json={"permissions": grants})
        assert resp.status_code == 200, resp.text
        try:
            headers = await _client_headers(c, nurse.username)
            own_read = await c.get(f"/api/v1/patients/{own.id}", headers=headers)
            assert own_read.status_code == 200, own_read.text
            assert own_read.json()["id"] == str(own.id)
            for ref in (str(other.id), other.patient_number):
                resp = await c.get(f"/api/v1/patients/{ref}", headers=headers)
                assert resp.status_code == 404, resp.text
        finally:  # roles are seeded data: the wipe after the test keeps them
            resp = await c.put("/api/v1/admin/roles/nurse/permissions",
                               headers=admin_headers,
                               json={"permissions": sorted(default_grants(Role.NURSE))})
            assert resp.status_code == 200, resp.text
    assert [r.username for r in await _patient_reads(db, own.id)] == [nurse.username]
    assert await _patient_reads(db, other.id) == []


@pytest.mark.postgres_only
async def test_with_the_principal_cache_a_read_opens_no_session(committed_app, db, people):
    """Once the caller's token is cached, a read is the patient SELECT and the audit
    append on asyncpg: no statement goes through a SQLAlchemy session or connection."""
    cache = PrincipalCache(60)
    listener = PrincipalListener(cache, db.url)
    await listener.start()
    committed_app.state.authenticator = CachedAuthenticator(cache)
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    try:
        async with AsyncClient(transport=ASGITransport(app=committed_app),
                               base_url="http://testserver") as c:
            headers = await _client_headers(c, people["receptionist"].username)
            # The login's own commit notifies every cache (it wrote the user and session
            # rows); let that notice land before the token is cached.
            await asyncio.sleep(0.3)
            url = f"/api/v1/patients/{people['patient'].patient_number}"
            assert (await c.get(url, headers=headers)).status_code == 200  # token cached
            assert len(cache) == 1
            event.listen(db.engine.sync_engine, "before_cursor_execute", count)
            try:
                for _ in range(3):
                    assert (await c.get(url, headers=headers)).status_code == 200
            finally:
                event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    finally:
        await listener.stop()
    assert seen == []
    assert len(await _patient_reads(db, people["patient"].id)) == 4
