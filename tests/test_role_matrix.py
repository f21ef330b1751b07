"""Every route of the app, called with every role and with no token.

The table below is the authorisation policy written out by hand (seed 000's role rights);
the test fails if the app has a route the table does not list, or the table lists a route
the app does not have. A role in a route's set must not get 401/403; any other role gets 403;
no token gets 401. Public routes answer without a token.
"""

from __future__ import annotations

import importlib
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
RE, BO, LT = Role.RECEPTIONIST, Role.BILLING_OFFICER, Role.LAB_TECHNICIAN
#: patient:read — seed 004 adds the front desk, billing and the laboratory.
PATIENT_READERS = CLINICAL | {RE, BO, LT}
#: patient:write and patient:read_identifiers — the registration desks (nurse, receptionist).
REGISTRARS = NURSING | {RE}

MATRIX: dict[tuple[str, str], frozenset[Role] | str] = {
    ("GET", "/health/live"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,
    ("GET", "/api/v1/auth/me"): SIGNED_IN,
    ("POST", "/api/v1/auth/logout-all"): SIGNED_IN,
    ("POST", "/api/v1/auth/change-password"): SIGNED_IN,
    ("GET", "/api/v1/auth/sessions"): SIGNED_IN,
    ("DELETE", "/api/v1/auth/sessions/{session_id}"): SIGNED_IN,
    ("POST", "/api/v1/auth/mfa/enroll"): SIGNED_IN,
    ("POST", "/api/v1/auth/mfa/confirm"): SIGNED_IN,
    ("POST", "/api/v1/auth/mfa/disable"): SIGNED_IN,
    ("GET", "/api/v1/admin/users"): ADMINS,
    ("POST", "/api/v1/admin/users"): ADMINS,
    ("PUT", "/api/v1/admin/users/{user_id}"): ADMINS,
    ("GET", "/api/v1/admin/roles"): ADMINS,  # role:manage
    ("PUT", "/api/v1/admin/roles/{role}/permissions"): ADMINS,
    ("GET", "/api/v1/patients/search"): PATIENT_READERS,
    ("POST", "/api/v1/patients"): REGISTRARS,
    ("GET", "/api/v1/patients/{patient_ssn}"): PATIENT_READERS,
    ("PUT", "/api/v1/patients/{patient_ssn}"): REGISTRARS,
    ("GET", "/api/v1/patients/{patient_ssn}/history"): CLINICAL,
    ("GET", "/api/v1/patients/{patient_ssn}/identifiers"): REGISTRARS,  # patient:read_identifiers
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
    ("GET", "/api/v1/audit-logs"): ADMINS,  # audit:read
    ("GET", "/api/v1/patients/{patient_ssn}/export"): ADMINS,  # patient:export
    ("GET", "/api/v1/patients/{patient_ssn}/legal-hold"): ADMINS,  # patient:legal_hold
    ("PUT", "/api/v1/patients/{patient_ssn}/legal-hold"): ADMINS,
    ("POST", "/api/v1/patients/{patient_ssn}/erasure-requests"): ADMINS,  # patient:erase
    ("GET", "/api/v1/erasure-requests"): ADMINS,
    ("GET", "/api/v1/erasure-requests/{request_id}"): ADMINS,
}

#: Seed 004 (HCMS) routes: each module keeps its rows beside its tests.
HCMS_MATRIX_MODULES = ("organization", "identity", "patients", "records", "scheduling",
                       "clinical", "lab", "billing", "reports")
for _module in HCMS_MATRIX_MODULES:
    _rows = importlib.import_module(f"tests.{_module}.matrix").ROWS
    assert not MATRIX.keys() & _rows.keys(), f"{_module} repeats a route"
    MATRIX.update(_rows)

# Routes that end the caller's session: called last, each with a fresh login, so they do
# not spoil the other calls.
SESSION_ENDING = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/logout-all")}


def _routes(app) -> list[tuple[str, str]]:
    out = []
    for path, item in app.openapi()["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                out.append((method.upper(), path))
    return out


def _concrete(path: str) -> str:
    fillers = {"report_type": "dashboard", "patient_ssn": "PT-19000101-0001",
               "role": "receptionist"}
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
async def role_usernames(session) -> dict[Role, str]:
    return {role: (await make_user(session, role)).username for role in Role}


@pytest.fixture
async def role_tokens(client, role_usernames) -> dict[Role, str]:
    return {role: (await login(client, name))["access_token"]
            for role, name in role_usernames.items()}


async def test_every_route_with_every_role(client, app, role_tokens, role_usernames):
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
            if (method, path) in SESSION_ENDING:
                token = (await login(client, role_usernames[role]))["access_token"]
            resp = await client.request(method, url, headers={
                "Authorization": f"Bearer {token}"}, **kwargs)
            if role in allowed and resp.status_code in (401, 403):
                failures.append(f"{method} {path} {role}: {resp.status_code}, expected allowed")
            if role not in allowed and resp.status_code != 403:
                failures.append(f"{method} {path} {role}: {resp.status_code}, expected 403")
            assert resp.status_code < 500, f"{method} {path} {role}: {resp.text}"
    assert failures == [], "\n".join(failures)


# -- scope checks: visit-scoped routes with a department-scoped role ----------------------

#: Every route that names one visit, or a document of one. With ``visit:read:department``
#: another department's record answers 404 (out of scope = not found, STYLE.md 6) and the
#: caller's own department's record does not.
VISIT_SCOPED = sorted(r for r in MATRIX if "{visit_id}" in r[1] or "{document_id}" in r[1])


def _scoped_call(method: str, path: str, visit_id: str, document_id: str) -> tuple[str, dict]:
    from tests.documents.factories import make_pdf
    from tests.forms.factories import nursing_body, radiology_body

    url = path.replace("{visit_id}", visit_id).replace("{document_id}", document_id)
    if method == "GET":
        return url, {}
    if path.endswith("/documents"):
        return url, {"files": {"file": ("scan.pdf", make_pdf(), "application/pdf")}}
    if path.endswith("/nursing-assessment"):
        return url, {"json": nursing_body() if method == "POST"
                     else {**nursing_body(), "version": 1}}
    if path.endswith("/radiology-assessment"):
        return url, {"json": radiology_body()}
    return url, {"json": {"notes": "Reviewed.", "version": 1}}


async def test_visit_scoped_routes_with_department_scope(client, session):
    from hms.core.permissions import default_grants
    from tests.documents.factories import make_pdf, upload
    from tests.forms.factories import nursing_body
    from tests.visits.factories import make_visit

    admin_user = await make_user(session, SA)
    admin_token = (await login(client, admin_user.username))["access_token"]
    admin = {"Authorization": f"Bearer {admin_token}"}
    records = {}
    for department in ("Cardiology", "Radiology"):
        visit = await make_visit(session, department=department)
        resp = await client.post(f"/api/v1/visits/{visit.id}/nursing-assessment",
                                 headers=admin, json=nursing_body())
        assert resp.status_code == 201, resp.text
        doc = await upload(client, visit.id, admin, make_pdf())
        assert doc.status_code == 201, doc.text
        records[department] = (str(visit.id), doc.json()["id"])

    exercised = set()
    failures = []
    for role in (PH, NU):
        grants = [g.replace("visit:read:all", "visit:read:department")
                   .replace("patient:read:all", "patient:read:department")
                  for g in default_grants(role)]
        resp = await client.put(f"/api/v1/admin/roles/{role.value}/permissions",
                                headers=admin, json={"permissions": grants})
        assert resp.status_code == 200, resp.text
        user = await make_user(session, role, department="cardiology")
        token = (await login(client, user.username))["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for method, path in VISIT_SCOPED:
            if role not in MATRIX[(method, path)]:
                continue
            exercised.add((method, path))
            for department, must_hide in (("Radiology", True), ("Cardiology", False)):
                url, kwargs = _scoped_call(method, path, *records[department])
                resp = await client.request(method, url, headers=headers, **kwargs)
                assert resp.status_code < 500, f"{method} {path} {role}: {resp.text}"
                hidden = resp.status_code == 404
                if hidden != must_hide:
                    failures.append(f"{role} {method} {path} {department}: "
                                    f"{resp.status_code} {resp.text[:100]}")
    assert exercised == set(VISIT_SCOPED), "a visit-scoped route was not checked"
    assert failures == [], "\n".join(failures)
