"""Every route of the app, called with every role and with no token.

The table below is the authorisation policy written out by hand (seed 000's role rights);
the test fails if the app has a route the table does not list, or the table lists a route
the app does not have. A role in a route's set must not get 401/403; any other role gets 403;
no token gets 401. Public routes answer without a token.
"""

from __future__ import annotations

import uuid

import pytest

from hms.core.permissions import Role
from tests.identity.factories import login, make_user

PUBLIC = "public"
SIGNED_IN = frozenset(Role)
SA, AD, PH, NU = Role.SUPER_ADMIN, Role.ADMIN, Role.PHYSICIAN, Role.NURSE
ADMINS = frozenset({SA, AD})
CLINICAL = frozenset({SA, AD, PH, NU})
NURSING = frozenset({SA, AD, NU})
PHYSICIANS = frozenset({SA, AD, PH})
VISIT_EDIT = frozenset({SA, AD, PH, NU})

MATRIX: dict[tuple[str, str], frozenset[Role] | str] = {
    ("GET", "/health/live"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,
    ("GET", "/api/v1/auth/me"): SIGNED_IN,
    ("GET", "/api/v1/admin/users"): ADMINS,
    ("POST", "/api/v1/admin/users"): ADMINS,
    ("PUT", "/api/v1/admin/users/{user_id}"): ADMINS,
    ("GET", "/api/v1/patients/search"): CLINICAL,
    ("POST", "/api/v1/patients"): NURSING,
    ("GET", "/api/v1/patients/{patient_ssn}"): CLINICAL,
    ("PUT", "/api/v1/patients/{patient_ssn}"): NURSING,
    ("GET", "/api/v1/patients/{patient_ssn}/history"): CLINICAL,
    ("GET", "/api/v1/visits"): CLINICAL,
    ("POST", "/api/v1/visits"): NURSING,
    ("GET", "/api/v1/visits/{visit_id}"): CLINICAL,
    ("PUT", "/api/v1/visits/{visit_id}"): VISIT_EDIT,
    ("POST", "/api/v1/visits/{visit_id}/nursing-assessment"): NURSING,
    ("GET", "/api/v1/visits/{visit_id}/nursing-assessment"): CLINICAL,
    ("PUT", "/api/v1/visits/{visit_id}/nursing-assessment"): NURSING,
    ("POST", "/api/v1/visits/{visit_id}/radiology-assessment"): PHYSICIANS,
    ("GET", "/api/v1/visits/{visit_id}/radiology-assessment"): CLINICAL,
    ("POST", "/api/v1/visits/{visit_id}/documents"): NURSING,
    ("GET", "/api/v1/visits/{visit_id}/documents"): CLINICAL,
    ("GET", "/api/v1/documents/{document_id}"): CLINICAL,
    ("GET", "/api/v1/documents/{document_id}/download"): CLINICAL,
    ("GET", "/api/v1/reports/dashboard"): ADMINS,
    ("GET", "/api/v1/reports/patients/statistics"): ADMINS,
    ("GET", "/api/v1/reports/visits/volume"): ADMINS,
    ("GET", "/api/v1/reports/clinical/assessments"): ADMINS,
    ("GET", "/api/v1/reports/export/{report_type}"): ADMINS,
    ("GET", "/api/v1/reports/jobs/{job_id}"): ADMINS,
    ("GET", "/api/v1/reports/jobs/{job_id}/download"): ADMINS,
}

# Routes that end the caller's session: called last so they do not spoil the other calls.
SESSION_ENDING = {("POST", "/api/v1/auth/logout")}


def _routes(app) -> list[tuple[str, str]]:
    out = []
    for path, item in app.openapi()["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                out.append((method.upper(), path))
    return out


def _concrete(path: str) -> str:
    fillers = {"report_type": "dashboard", "patient_ssn": "PT-19000101-0001"}
    out = path
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        name = out[start + 1:end]
        out = out[:start] + fillers.get(name, str(uuid.uuid4())) + out[end + 1:]
    return out


def test_matrix_lists_exactly_the_app_routes(app):
    routes = set(_routes(app))
    assert routes - MATRIX.keys() == set(), "routes missing from the role matrix"
    assert MATRIX.keys() - routes == set(), "matrix lists routes the app does not have"


@pytest.fixture
async def role_tokens(client, session) -> dict[Role, str]:
    tokens = {}
    for role in Role:
        user = await make_user(session, role)
        tokens[role] = (await login(client, user.username))["access_token"]
    return tokens


async def test_every_route_with_every_role(client, app, role_tokens):
    routes = sorted(_routes(app), key=lambda r: r in SESSION_ENDING)
    failures = []
    for method, path in routes:
        allowed = MATRIX[(method, path)]
        url = _concrete(path)
        kwargs = {"json": {}} if method in {"POST", "PUT"} else {}
        anonymous = await client.request(method, url, **kwargs)
        if allowed == PUBLIC:
            if anonymous.status_code in (401, 403):
                failures.append(f"{method} {path} public but {anonymous.status_code}")
            continue
        if anonymous.status_code != 401:
            failures.append(f"{method} {path} without token: {anonymous.status_code}")
        for role, token in role_tokens.items():
            resp = await client.request(method, url, headers={
                "Authorization": f"Bearer {token}"}, **kwargs)
            if role in allowed and resp.status_code in (401, 403):
                failures.append(f"{method} {path} {role}: {resp.status_code}, expected allowed")
            if role not in allowed and resp.status_code != 403:
                failures.append(f"{method} {path} {role}: {resp.status_code}, expected 403")
            assert resp.status_code < 500, f"{method} {path} {role}: {resp.text}"
    assert failures == []
