"""Insecure direct object references: guessing or forging an id never reveals a record.

Every route with a path parameter, called with ids that do not exist (random UUIDs, made-up
national IDs and patient numbers, traversal strings), answers 404 (or 422 for a malformed
id) as problem+json: never 500, never 403-vs-404 differences that confirm existence, and
the error never echoes the reference (a national ID in a path is patient data).

Source: OWASP API Security Top 10 2023, API1 (broken object level authorization); STYLE.md
section 6 (out of scope is 404, not 403).
"""

from __future__ import annotations

import re
import uuid

import pytest

from hms.core.permissions import Role
from tests.identity.factories import auth_headers
from tests.patients.factories import national_id

PROBLEM = "application/problem+json"

#: Made-up references for each kind of path parameter (none of them exists).
FORGED = {
    "uuid": [lambda: str(uuid.uuid4()), lambda: "00000000-0000-0000-0000-000000000000"],
    "patient": [lambda: str(uuid.uuid4()), lambda: national_id(),
                lambda: "PT-19000101-9999", lambda: "..%2F..%2Fetc%2Fpasswd",
                lambda: "' OR 1=1 --", lambda: "9" * 400],
}


#: Path parameters that name a kind of thing, not a record: given a valid value.
NOT_IDS = {"report_type": "dashboard", "role": "nurse"}


def _routes_with_path_params(app) -> list[tuple[str, str, list[str]]]:
    out = []
    for path, item in app.openapi()["paths"].items():
        names = [n for n in re.findall(r"\{([^}]+)\}", path) if n not in NOT_IDS]
        if not names:
            continue
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                out.append((method.upper(), path, names))
    return out


def _forgeries(names: list[str]) -> list[dict[str, str]]:
    out = []
    for kind in ("uuid", "patient"):
        for make in FORGED[kind]:
            out.append({n: (make() if n.startswith("patient") or kind == "uuid"
                            else str(uuid.uuid4())) for n in names})
    return out


@pytest.mark.parametrize("role", [Role.NURSE, Role.PHYSICIAN, Role.SUPER_ADMIN])
async def test_forged_ids_on_every_route_are_not_found(client, app, session, role):
    h = await auth_headers(client, session, role)
    failures = []
    for method, path, names in _routes_with_path_params(app):
        if path.startswith("/api/v1/auth/"):
            continue  # the caller's own sessions: covered by tests/identity
        for values in _forgeries(names):
            url = path
            for name, value in {**values, **NOT_IDS}.items():
                url = url.replace("{" + name + "}", value)
            kwargs = {}
            if method in {"POST", "PUT", "PATCH"}:
                # An update names the version it read, so the lookup is what answers.
                kwargs = {"json": {"version": 1}, "headers": {**h, "If-Match": 'W/"1"'}}
            resp = await client.request(method, url, **{"headers": h, **kwargs})
            where = f"{role} {method} {path} {values}"
            if resp.status_code >= 500:
                failures.append(f"{where}: {resp.status_code}")
                continue
            if resp.status_code == 403:
                continue  # the role may not call this route at all: same for any id
            if resp.status_code not in (404, 422):
                failures.append(f"{where}: {resp.status_code} {resp.text[:120]}")
            if not resp.headers["content-type"].startswith(PROBLEM):
                failures.append(f"{where}: not problem+json")
            for value in values.values():
                if len(value) > 8 and value in resp.text:
                    failures.append(f"{where}: the error echoes {value!r}")
    assert not failures, "\n".join(failures)


class TestOtherPatientsRecords:
    """A nurse guessing ids of records reaches nothing that does not exist or is out of
    her scope, with the same answer either way."""

    async def test_guessed_patient_visit_and_document(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        guessed = str(uuid.uuid4())
        ssn = national_id()
        for url in (f"/api/v1/patients/{guessed}", f"/api/v1/patients/{ssn}",
                    f"/api/v1/patients/{ssn}/history", f"/api/v1/visits/{guessed}",
                    f"/api/v1/visits/{guessed}/nursing-assessment",
                    f"/api/v1/visits/{guessed}/documents", f"/api/v1/documents/{guessed}",
                    f"/api/v1/documents/{guessed}/download"):
            resp = await client.get(url, headers=h)
            assert resp.status_code == 404, (url, resp.text)
            assert resp.headers["content-type"].startswith(PROBLEM)
            assert ssn not in resp.text


class TestAnotherDepartmentsRecords:
    """A department-scoped nurse (``visit:read:department``, ``patient:read:department``,
    seed 003 4.4) probing the records of another department gets exactly what she gets for
    a record that does not exist: 404, and nothing in lists, searches or filters."""

    async def _scoped_nurse(self, client, session) -> dict[str, str]:
        from hms.core.permissions import default_grants
        from tests.identity.factories import login, make_user

        admin = await make_user(session, Role.SUPER_ADMIN)
        admin_h = {"Authorization":
                   f"Bearer {(await login(client, admin.username))['access_token']}"}
        grants = [g.replace(":all", ":department") for g in default_grants(Role.NURSE)]
        resp = await client.put("/api/v1/admin/roles/nurse/permissions", headers=admin_h,
                                json={"permissions": grants})
        assert resp.status_code == 200, resp.text
        nurse = await make_user(session, Role.NURSE, department="Cardiology")
        return {"Authorization":
                f"Bearer {(await login(client, nurse.username))['access_token']}"}

    async def test_other_department_is_indistinguishable_from_nothing(self, client,
                                                                      session):
        from tests.patients.factories import make_patient
        from tests.visits.factories import make_visit

        h = await self._scoped_nurse(client, session)
        own_patient = await make_patient(session, full_name="Own Ward-Patient")
        own = await make_visit(session, own_patient.id, department="Cardiology")
        other_patient = await make_patient(session, full_name="Other Ward-Patient")
        other = await make_visit(session, other_patient.id, department="Radiology")

        assert (await client.get(f"/api/v1/visits/{own.id}", headers=h)).status_code == 200
        for url in ("/api/v1/visits/{}", "/api/v1/visits/{}/nursing-assessment",
                    "/api/v1/visits/{}/documents"):
            real = await client.get(url.format(other.id), headers=h)
            fake = await client.get(url.format(uuid.uuid4()), headers=h)
            assert real.status_code == fake.status_code == 404, (url, real.text)
            assert real.json()["detail"] == fake.json()["detail"]
        for ref in (str(other_patient.id), other_patient.patient_number):
            resp = await client.get(f"/api/v1/patients/{ref}", headers=h)
            assert resp.status_code == 404, resp.text
            history = await client.get(f"/api/v1/patients/{ref}/history", headers=h)
            assert history.status_code == 404

        listing = await client.get("/api/v1/visits", headers=h, params={"page_size": 100})
        assert str(other.id) not in {v["id"] for v in listing.json()["items"]}
        assert str(own.id) in {v["id"] for v in listing.json()["items"]}
        for params in ({"department": "Radiology"}, {"patient": str(other_patient.id)},
                       {"patient": other_patient.patient_number}):
            filtered = await client.get("/api/v1/visits", headers=h, params=params)
            assert filtered.status_code in (200, 404), filtered.text
            if filtered.status_code == 200:
                assert filtered.json()["total"] == 0, params
        found = await client.get("/api/v1/patients/search", headers=h,
                                 params={"name": "Ward-Patient"})
        assert {p["id"] for p in found.json()["items"]} == {str(own_patient.id)}
