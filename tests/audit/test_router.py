"""``GET /api/v1/audit-logs``: filters and cursor pagination for auditors; the listing is
itself audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hms.audit import service as audit
from hms.core.permissions import Role
from tests.identity.factories import auth_headers
from tests.privacy.factories import clinical_day

URL = "/api/v1/audit-logs"


async def test_filters_and_cursor_pagination(client, session) -> None:
    day = await clinical_day(client, session)
    patient_id = day.patient["id"]
    seen: list[dict] = []
    cursor = None
    while True:
        params = {"patient_id": patient_id, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        resp = await client.get(URL, headers=day.admin, params=params)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)
    assert {e["patient_id"] for e in seen} == {patient_id}
    assert len(seen) == await audit.count_events(session, patient_id=uuid.UUID(patient_id))
    assert {"create", "read", "update"} <= {e["action"] for e in seen}
    assert all(len(e["row_hash"]) == 64 and len(e["prev_hash"]) == 64 for e in seen)

    creates = (await client.get(URL, headers=day.admin, params={
        "entity_type": "patient", "action": "create", "entity_id": patient_id})).json()
    assert [e["entity_id"] for e in creates["items"]] == [patient_id]
    nurse_id = creates["items"][0]["user_id"]
    by_nurse = (await client.get(URL, headers=day.admin, params={
        "user_id": nurse_id, "limit": 100})).json()["items"]
    assert by_nurse and {e["user_id"] for e in by_nurse} == {nurse_id}


async def test_time_window(client, session) -> None:
    day = await clinical_day(client, session)
    now = datetime.now(UTC)
    recent = (await client.get(URL, headers=day.admin, params={
        "from": (now - timedelta(minutes=5)).isoformat(), "limit": 100})).json()["items"]
    future = (await client.get(URL, headers=day.admin, params={
        "from": (now + timedelta(days=1)).isoformat()})).json()["items"]
    past = (await client.get(URL, headers=day.admin, params={
        "to": "2000-01-01T00:00:00"})).json()["items"]
    assert recent and future == [] and past == []


async def test_the_listing_is_audited(client, session) -> None:
    admin = await auth_headers(client, session, Role.ADMIN)
    resp = await client.get(URL, headers=admin, params={"action": "login", "limit": 1})
    assert resp.status_code == 200
    [event] = await audit.list_events(session, entity_type="audit_log", action="search")
    assert event.changes == {"filters": ["action"], "returned": 1}


async def test_bad_parameters_are_422(client, session) -> None:
    admin = await auth_headers(client, session, Role.ADMIN)
    for params in ({"cursor": "abc"}, {"cursor": "0"}, {"cursor": "1" * 40},
                   {"limit": 0}, {"limit": 101}, {"patient_id": "not-a-uuid"},
                   {"from": "yesterday"}, {"entity_type": "x" * 65},
                   {"entity_id": "a\x00b"}, {"from": "0001-01-01T00:00:00+14:00"}):
        resp = await client.get(URL, headers=admin, params=params)
        assert resp.status_code == 422, (params, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"


async def test_only_auditors_read_it(client, session) -> None:
    for role in (Role.NURSE, Role.PHYSICIAN):
        headers = await auth_headers(client, session, role)
        assert (await client.get(URL, headers=headers)).status_code == 403
