"""Seed 004 section 11 "Audit Trail": each action is logged with user, action, entity,
old and new values, IP address and user agent; the API offers no way to change or delete
a log row (append-only; on PostgreSQL the table itself refuses, tests/audit/test_chain.py)."""

from __future__ import annotations

import pytest

from hms.audit import service as audit
from hms.core.permissions import Role
from tests.identity.factories import auth_headers

PROBLEM = "application/problem+json"
AGENT = "hcms-rules-test/1.0"


async def test_an_update_is_logged_with_who_what_old_new_ip_and_agent(client, session):
    admin = {**await auth_headers(client, session, Role.ADMIN), "User-Agent": AGENT}
    created = await client.post("/api/v1/departments", headers=admin,
                                json={"name": "Audit Ward", "description": "before"})
    assert created.status_code == 201, created.text
    dep_id = created.json()["id"]
    changed = await client.put(f"/api/v1/departments/{dep_id}", headers=admin,
                               json={"description": "after"})
    assert changed.status_code == 200, changed.text

    [event] = await audit.list_events(session, action="update", entity_type="department",
                                      entity_id=dep_id)
    assert event.user_id is not None and event.username
    assert event.changes["before"]["description"] == "before"
    assert event.changes["after"]["description"] == "after"
    assert event.ip and event.user_agent == AGENT
    assert await audit.count_events(session, action="create", entity_type="department",
                                    entity_id=dep_id) == 1


_ONE_ROW = "/api/v1/audit-logs/00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(("method", "path"), [
    ("DELETE", "/api/v1/audit-logs"), ("PUT", "/api/v1/audit-logs"),
    ("POST", "/api/v1/audit-logs"), ("DELETE", _ONE_ROW),
])
async def test_audit_logs_cannot_be_changed_or_deleted_over_http(client, session, method,
                                                                 path):
    admin = await auth_headers(client, session, Role.ADMIN)
    before = await audit.count_events(session)
    resp = await client.request(method, path, headers=admin)
    assert resp.status_code in (404, 405), resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    assert resp.json()["code"] in ("not_found", "method_not_allowed")
    assert await audit.count_events(session) >= before
