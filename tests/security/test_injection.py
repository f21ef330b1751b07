"""SQL injection and oversized strings in every query parameter of every GET route.

The routes and their parameters are read from the app's own OpenAPI document, so a route
added later is attacked too. Each payload goes alone into one parameter (the others keep
valid values) of a request by a user whose role may call the route. The answer is always a
2xx that leaks nothing or a 4xx problem+json: never a 5xx, never a database error text,
never more rows than the payload can honestly match. The patients table is intact after.

Source: OWASP WSTG-INPV-05 (SQL injection); OWASP API Security Top 10 2023 API4 and API8.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from hms.core.permissions import Role
from tests.identity.factories import login, make_user
from tests.patients.factories import make_patient, seed_payload
from tests.visits.factories import make_visit

PROBLEM = "application/problem+json"

PAYLOADS = [
    "' OR 1=1 --",
    "'; DROP TABLE patients; --",
    "\"; DROP TABLE patients; --",
    "1' UNION SELECT username, password_hash FROM users --",
    "' AND (SELECT COUNT(*) FROM users) > 0 --",
    "1; SELECT pg_sleep(5) --",
    "' || (SELECT sqlite_version()) || '",
    "\u2019 OR 1=1 --",            # right single quotation mark
    "\u02bc; DROP TABLE patients; --",  # modifier letter apostrophe
    "\uff07 OR \uff071\uff07=\uff071",  # fullwidth apostrophes
    "x\x00y",                      # NUL inside
    "\x00",
    "%",                           # LIKE wildcards must not match everything
    "\\",
    "%' OR '%'='",
    "a" * 10_000,                  # oversized
]

#: Text a database driver or a traceback would put in an answer.
LEAK_MARKERS = re.compile(
    r"syntax error|sqlite|psycopg|asyncpg|sqlalchemy|traceback|operationalerror|"
    r"programmingerror|password_hash|\$argon2|unterminated|near \"",
    re.IGNORECASE,
)


def _valid_value(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A valid value for a query parameter's schema (used for the required ones)."""
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return _valid_value(option, components)
    if "$ref" in schema:
        return _valid_value(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("default") is not None:
        return schema["default"]
    kind = schema.get("type")
    if schema.get("format") == "date":
        return "2026-01-01"
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return "true"
    if kind == "array":
        return _valid_value(schema.get("items", {}), components)
    return "a"


def _get_routes_with_query(app) -> list[tuple[str, list[dict[str, Any]]]]:
    spec = app.openapi()
    out = []
    for path, item in spec["paths"].items():
        op = item.get("get")
        if op is None:
            continue
        params = [p for p in op.get("parameters", []) if p["in"] == "query"]
        if params:
            out.append((path, params))
    return out


@pytest.fixture
async def world(client, session) -> dict[str, Any]:
    """A super admin's token and one real record behind each kind of path parameter."""
    user = await make_user(session, Role.SUPER_ADMIN)
    token = (await login(client, user.username))["access_token"]
    patient = await make_patient(session, full_name="Nadia Injection-Target")
    visit = await make_visit(session, patient.id, department="Cardiology")
    fillers = {
        "patient_ssn": patient.patient_number, "patient_ref": patient.patient_number,
        "patient_id": str(patient.id), "visit_id": str(visit.id), "user_id": str(user.id),
        "report_type": "dashboard", "role": "nurse",
    }
    return {"headers": {"Authorization": f"Bearer {token}"}, "patient": patient,
            "fillers": fillers}


def _concrete(path: str, fillers: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: fillers.get(m.group(1), str(uuid.uuid4())), path)


async def _count_patients(session) -> int:
    return int((await session.execute(text("SELECT COUNT(*) FROM patients"))).scalar_one())


async def test_every_query_parameter_resists_injection(client, app, session, world):
    components = app.openapi().get("components", {}).get("schemas", {})
    routes = _get_routes_with_query(app)
    assert any(path == "/api/v1/patients/search" for path, _ in routes)
    before = await _count_patients(session)
    failures: list[str] = []
    attacked = 0
    for path, params in routes:
        url = _concrete(path, world["fillers"])
        required = {p["name"]: _valid_value(p["schema"], components)
                    for p in params if p.get("required")}
        for param in params:
            for payload in PAYLOADS:
                query = {**required, param["name"]: payload}
                resp = await client.get(url, params=query, headers=world["headers"])
                attacked += 1
                where = f"GET {path} ?{param['name']}={payload[:30]!r}"
                if resp.status_code >= 500:
                    failures.append(f"{where}: {resp.status_code} {resp.text[:200]}")
                    continue
                if resp.status_code >= 400:
                    if not resp.headers["content-type"].startswith(PROBLEM):
                        failures.append(f"{where}: {resp.status_code} not problem+json")
                    if payload in resp.text and len(payload) > 3:
                        failures.append(f"{where}: the error echoes the input")
                if LEAK_MARKERS.search(resp.text) and "sqlite" not in payload:
                    failures.append(f"{where}: leaks {LEAK_MARKERS.search(resp.text)[0]!r}")
                if (resp.status_code == 200 and path == "/api/v1/patients/search"
                        and resp.json()["total"] != 0):
                    failures.append(f"{where}: matched {resp.json()['total']} patients")
    assert attacked >= len(PAYLOADS) * 20
    assert not failures, "\n".join(failures)
    assert await _count_patients(session) == before
    found = await client.get("/api/v1/patients/search", headers=world["headers"],
                             params={"name": "Injection-Target"})
    assert found.status_code == 200
    assert [p["id"] for p in found.json()["items"]] == [str(world["patient"].id)]


class TestNulCharacters:
    """U+0000 is refused at the edge with 422 naming the field, on both databases
    (PostgreSQL cannot store it; SQLite would store it silently)."""

    async def _nurse(self, client, session) -> dict[str, str]:
        user = await make_user(session, Role.NURSE)
        return {"Authorization": f"Bearer {(await login(client, user.username))['access_token']}"}

    def _assert_refused(self, resp, field: str, where: str) -> None:
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith(PROBLEM)
        errors = resp.json()["errors"]
        assert {"field": field, "in": where, "type": "nul_character"}.items() \
            <= errors[0].items(), errors

    async def test_in_a_json_body_field(self, client, session):
        h = await self._nurse(client, session)
        resp = await client.post("/api/v1/patients", headers=h,
                                 json=seed_payload(notes="before\u0000after"))
        self._assert_refused(resp, "notes", "body")

    async def test_in_a_nested_json_field(self, client, session):
        h = await self._nurse(client, session)
        visit = await make_visit(session)
        resp = await client.post(f"/api/v1/visits/{visit.id}/nursing-assessment", headers=h,
                                 json={"pain_assessment": {"pain_score": 2, "site": "x\u0000"}})
        self._assert_refused(resp, "pain_assessment.site", "body")

    async def test_in_the_login_form_and_json(self, client):
        form = await client.post("/api/v1/auth/login",
                                 data={"username": "nurse\x00", "password": "x"})
        self._assert_refused(form, "username", "body")
        body = await client.post("/api/v1/auth/login",
                                 json={"username": "nurse", "password": "x\u0000"})
        self._assert_refused(body, "password", "body")

    async def test_in_a_query_parameter_and_the_path(self, client, session):
        h = await self._nurse(client, session)
        query = await client.get("/api/v1/visits", headers=h,
                                 params={"department": "ward\x00"})
        self._assert_refused(query, "department", "query")
        for url in ("/api/v1/patients/PT%00", "/api/v1/admin/roles/nu%00rse/permissions",
                    "/api/v1/reports/export/dash%00board"):
            path = await client.get(url, headers=h)
            assert path.status_code == 404, (url, path.text)
            assert path.headers["content-type"].startswith(PROBLEM)

    async def test_the_text_backslash_u0000_is_ordinary_text(self, client, session):
        h = await self._nurse(client, session)
        # A real field (unknown fields are refused since the seed 004 work).
        resp = await client.post("/api/v1/patients", headers=h, json=seed_payload(
            occupation="literal \\u0000"))
        assert resp.status_code == 201, resp.text
        assert resp.json()["occupation"] == "literal \\u0000"

    async def test_deeply_nested_json_is_a_4xx(self, client, session):
        h = await self._nurse(client, session)
        for body in ("[" * 200_000 + '"\\u0000"' + "]" * 200_000,
                     "[" * 200_000 + "]" * 200_000,
                     '{"a":' * 900 + '"x\\u0000"' + "}" * 900):
            resp = await client.post("/api/v1/patients", content=body,
                                     headers={**h, "Content-Type": "application/json"})
            assert 400 <= resp.status_code < 500, resp.text[:200]
            assert resp.headers["content-type"].startswith(PROBLEM)
