"""Visits over HTTP: open, list with physicians' open-first order, read, update with
versions, close."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hms.audit import service as audit
from hms.core.permissions import Role
from tests.identity.factories import auth_headers, login, make_user
from tests.patients.factories import make_patient
from tests.visits.factories import make_visit


class TestOpenVisit:
    async def test_nurse_opens_visit_by_patient_number(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        patient = await make_patient(session)
        resp = await client.post("/api/v1/visits", headers=h, json={
            "patient_id": patient.patient_number, "department": "Radiology",
            "chief_complaint": "Chest pain"})
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["status"] == "open"
        assert body["patient_id"] == str(patient.id)
        assert resp.headers["etag"] == 'W/"1"'
        assert resp.headers["location"] == f"/api/v1/visits/{body['id']}"
        assert await audit.count_events(session, action="create", entity_type="visit") == 1

    async def test_unknown_patient_is_404(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        resp = await client.post("/api/v1/visits", headers=h, json={"patient_id": "PT-X"})
        assert resp.status_code == 404
        assert resp.headers["content-type"].startswith("application/problem+json")

    async def test_deceased_patient_gets_rule_violation(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        patient = await make_patient(session)
        # Registration has no "deceased" field; records get it from imports (FHIR
        # deceasedDateTime), so set it on the row the way an import would.
        from sqlalchemy import update

        from hms.patients.models import Patient

        await session.execute(update(Patient).where(Patient.id == patient.id)
                              .values(deceased_at=datetime(2020, 1, 1, tzinfo=UTC)))
        await session.commit()
        resp = await client.post("/api/v1/visits", headers=h,
                                 json={"patient_id": str(patient.id)})
        assert resp.status_code == 422
        assert resp.json()["code"] == "patient_not_eligible"

    async def test_physician_cannot_open_visit(self, client, session):
        h = await auth_headers(client, session, Role.PHYSICIAN)
        patient = await make_patient(session)
        resp = await client.post("/api/v1/visits", headers=h,
                                 json={"patient_id": str(patient.id)})
        assert resp.status_code == 403

    async def test_attending_must_be_a_physician(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        nurse = await make_user(session, Role.NURSE)
        patient = await make_patient(session)
        resp = await client.post("/api/v1/visits", headers=h, json={
            "patient_id": str(patient.id), "attending_physician_id": str(nurse.id)})
        assert resp.status_code == 422
        assert resp.json()["code"] == "attending_not_physician"


class TestListVisits:
    async def test_physician_sees_open_visits_first(self, client, session):
        patient = await make_patient(session)
        closed = await make_visit(session, patient.id, status="closed",
                                  started_at=datetime(2026, 11, 20, 9, tzinfo=UTC))
        open_old = await make_visit(session, patient.id, status="open",
                                    started_at=datetime(2026, 11, 1, 9, tzinfo=UTC))
        in_prog = await make_visit(session, patient.id, status="in_progress",
                                   started_at=datetime(2026, 11, 21, 9, tzinfo=UTC))
        h = await auth_headers(client, session, Role.PHYSICIAN)
        resp = await client.get("/api/v1/visits", headers=h)
        assert resp.status_code == 200
        ids = [v["id"] for v in resp.json()["items"]]
        assert ids == [str(open_old.id), str(in_prog.id), str(closed.id)]
        nurse_h = await auth_headers(client, session, Role.NURSE)
        nurse_ids = [v["id"] for v in
                     (await client.get("/api/v1/visits", headers=nurse_h)).json()["items"]]
        assert nurse_ids == [str(in_prog.id), str(closed.id), str(open_old.id)]

    async def test_filters_combine(self, client, session):
        p1 = await make_patient(session)
        p2 = await make_patient(session)
        v1 = await make_visit(session, p1.id, department="ER",
                              started_at=datetime(2026, 11, 10, 9, tzinfo=UTC))
        await make_visit(session, p1.id, department="ER", status="closed",
                         started_at=datetime(2026, 11, 11, 9, tzinfo=UTC))
        await make_visit(session, p2.id, department="ER",
                         started_at=datetime(2026, 11, 10, 9, tzinfo=UTC))
        h = await auth_headers(client, session, Role.NURSE)
        resp = await client.get("/api/v1/visits", headers=h, params={
            "status": "open", "patient": p1.patient_number, "department": "er",
            "date_from": "2026-11-10", "date_to": "2026-11-10"})
        body = resp.json()
        assert body["total"] == 1 and body["items"][0]["id"] == str(v1.id)
        assert (body["page"], body["page_size"]) == (1, 20)

    async def test_total_is_counted_up_to_the_cap(self, client, session, monkeypatch):
        from hms.visits import repository

        monkeypatch.setattr(repository, "COUNT_CAP", 3)
        patient = await make_patient(session)
        for _ in range(5):
            await make_visit(session, patient.id, department="ER")
        h = await auth_headers(client, session, Role.NURSE)
        paged = (await client.get("/api/v1/visits", headers=h,
                                  params={"page_size": 2, "page": 2})).json()
        assert (paged["total"], paged["total_exact"], len(paged["items"])) == (3, False, 2)
        whole = (await client.get("/api/v1/visits", headers=h,
                                  params={"page_size": 10})).json()
        assert (whole["total"], whole["total_exact"], len(whole["items"])) == (5, True, 5)

    async def test_bad_filters_are_422(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        for params in ({"status": "bogus"}, {"date_from": "yesterday"},
                       {"page_size": 1000}, {"sort": "password"}, {"sort": "1;drop"}):
            resp = await client.get("/api/v1/visits", headers=h, params=params)
            assert resp.status_code == 422, params


class TestUpdateVisit:
    async def test_physician_updates_diagnosis_and_closes(self, client, session):
        visit = await make_visit(session)
        h = await auth_headers(client, session, Role.PHYSICIAN)
        resp = await client.put(f"/api/v1/visits/{visit.id}", headers=h, json={
            "diagnosis": "Community-acquired pneumonia", "diagnosis_icd10_code": "j18.9",
            "version": 1})
        assert resp.status_code == 200, resp.text
        assert resp.json()["diagnosis_icd10_code"] == "J18.9"
        assert resp.json()["version"] == 2
        closed = await client.put(f"/api/v1/visits/{visit.id}", headers={
            **h, "If-Match": resp.headers["etag"]}, json={"status": "closed"})
        assert closed.status_code == 200
        assert closed.json()["status"] == "closed" and closed.json()["ended_at"]
        again = await client.put(f"/api/v1/visits/{visit.id}", headers=h,
                                 json={"notes": "late", "version": 3})
        assert again.status_code == 409 and again.json()["code"] == "visit_closed"

    async def test_stale_version_gets_412_and_missing_version_428(self, client, session):
        visit = await make_visit(session)
        a = await auth_headers(client, session, Role.NURSE)
        b = await auth_headers(client, session, Role.NURSE)
        first = await client.put(f"/api/v1/visits/{visit.id}", headers=a,
                                 json={"notes": "nurse A", "version": 1})
        second = await client.put(f"/api/v1/visits/{visit.id}", headers=b,
                                  json={"notes": "nurse B", "version": 1})
        assert first.status_code == 200
        assert second.status_code == 412
        got = await client.get(f"/api/v1/visits/{visit.id}", headers=a)
        assert got.json()["notes"] == "nurse A"
        missing = await client.put(f"/api/v1/visits/{visit.id}", headers=a,
                                   json={"notes": "x"})
        assert missing.status_code == 428

    async def test_nurse_cannot_set_diagnosis(self, client, session):
        visit = await make_visit(session)
        h = await auth_headers(client, session, Role.NURSE)
        resp = await client.put(f"/api/v1/visits/{visit.id}", headers=h,
                                json={"diagnosis": "flu", "version": 1})
        assert resp.status_code == 403

    async def test_invalid_icd10_and_transition(self, client, session):
        visit = await make_visit(session, status="in_progress")
        h = await auth_headers(client, session, Role.PHYSICIAN)
        bad = await client.put(f"/api/v1/visits/{visit.id}", headers=h,
                               json={"diagnosis_icd10_code": "123", "version": 1})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "diagnosis_icd10_code"
        back = await client.put(f"/api/v1/visits/{visit.id}", headers=h,
                                json={"status": "open", "version": 1})
        assert back.status_code == 409 and back.json()["code"] == "invalid_visit_transition"

    async def test_read_is_audited(self, client, session):
        visit = await make_visit(session)
        h = await auth_headers(client, session, Role.PHYSICIAN)
        resp = await client.get(f"/api/v1/visits/{visit.id}", headers=h)
        assert resp.status_code == 200
        assert await audit.count_events(session, action="read", entity_id=str(visit.id),
                                        patient_id=visit.patient_id) == 1


class TestConcurrentUpdates:
    async def test_two_nurses_at_once_one_gets_412(self, committed_client, db):
        from hms.db.session import unit_of_work
        from tests.visits.factories import make_visit as mk

        async with unit_of_work(db) as s:
            nurse_a = await make_user(s, Role.NURSE)
            nurse_b = await make_user(s, Role.NURSE)
            visit = await mk(s)
        ha = {"Authorization": "Bearer " + (await login(committed_client, nurse_a.username))[
            "access_token"]}
        hb = {"Authorization": "Bearer " + (await login(committed_client, nurse_b.username))[
            "access_token"]}
        results = await asyncio.gather(
            committed_client.put(f"/api/v1/visits/{visit.id}", headers=ha,
                                 json={"notes": "A", "version": 1}),
            committed_client.put(f"/api/v1/visits/{visit.id}", headers=hb,
                                 json={"notes": "B", "version": 1}),
        )
        assert sorted(r.status_code for r in results) == [200, 412]
