"""Schemathesis against a real ``hms`` server started the way a hospital would: ``hms demo``
(demo users and imported Synthea patients), then ``hms serve``. Bounded example counts keep
it to a minute or two; it runs on the database under test (SQLite or PostgreSQL).

The admin's run has every phase: ``examples``, ``coverage`` (boundary values of every
parameter), ``fuzzing`` and ``stateful`` (chains of calls following the links schemathesis
infers from the responses, e.g. create a patient, read it, open a visit for it, update the
visit). The nurse's and the physician's runs skip the long, role-independent coverage phase.
So that generated calls reach real records instead of 404s, a config file gives schemathesis
dictionaries of the demo's real ids (patients, visits, a document, a finished report job)
and of valid, unused national IDs and mobiles for the create bodies.

Checks: no 5xx, status codes / content types / bodies conform to the OpenAPI document.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_DB, _pg_admin, _pg_database_url
from tests.documents.factories import make_pdf, multipart_body
from tests.patients.factories import mobile, national_id

BIN = Path(sys.executable).parent
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")
SEED = "20261122"

#: Routes that end the caller's session or change who may do what (logout, revoking
#: sessions, changing a password or MFA, user and role updates): in the main runs they
#: would spoil the token for every later call, so they get their own run at the end.
SESSION_ENDING = (r"^/api/v1/(auth/(logout|logout-all|change-password|mfa/[a-z]+"
                  r"|sessions/\{session_id\})|admin/users/\{user_id\}|users/\{id\}"
                  r"|admin/roles/\{role\}/permissions)$")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _login(base: str, username: str, password: str) -> str:
    resp = httpx.post(f"{base}/api/v1/auth/login",
                      data={"username": username, "password": password}, timeout=30)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _test_data(base: str, admin: str, nurse: str) -> str:
    """Schemathesis config (TOML) with dictionaries of real ids and valid new values."""
    h = {"Authorization": f"Bearer {admin}"}
    visits = httpx.get(f"{base}/api/v1/visits", headers=h, params={"page_size": 100},
                       timeout=30).json()["items"]
    patients = httpx.get(f"{base}/api/v1/patients/search", headers=h,
                         params={"page_size": 100}, timeout=30).json()["items"]
    assert visits and patients
    refs = [p["patient_number"] for p in patients] + [p["id"] for p in patients]
    # One real document and one finished export job.
    body, content_type = multipart_body([("file", "scan.pdf", "application/pdf", make_pdf())])
    doc = httpx.post(f"{base}/api/v1/visits/{visits[0]['id']}/documents", content=body,
                     headers={"Authorization": f"Bearer {nurse}",
                              "Content-Type": content_type}, timeout=30)
    assert doc.status_code == 201, doc.text
    job = httpx.get(f"{base}/api/v1/reports/export/dashboard", headers=h,
                    params={"format": "csv"}, timeout=30).json()
    for _ in range(100):
        if httpx.get(f"{base}{job['status_url']}", headers=h,
                     timeout=30).json()["status"] in ("completed", "failed"):
            break
        time.sleep(0.1)
    rng = random.Random(20261122)
    new_ids = [national_id(date(rng.randint(1940, 2020), rng.randint(1, 12),
                                rng.randint(1, 28)), n=rng.randint(10_000, 10**7))
               for _ in range(200)]
    mobiles = [mobile(rng.choice(["010", "011", "012", "015"])) for _ in range(50)]
    dictionaries = {
        "visits": [v["id"] for v in visits], "patients": refs,
        "documents": [doc.json()["id"]], "jobs": [job["job_id"]],
        "new_national_ids": new_ids, "mobiles": mobiles,
    }
    bindings = {
        "path.visit_id": "visits", "path.patient_ssn": "patients",
        "path.document_id": "documents", "path.job_id": "jobs",
        "body.patient_id": "patients", "query.patient": "patients",
        "query.patient_id": "patients",
        "body.national_id": "new_national_ids", "body.ssn": "new_national_ids",
        "body.mobile": "mobiles", "body.mobile_number": "mobiles",
    }
    lines = []
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {_toml_list(values)}", ""]
    lines.append("[parameters]")
    for key, name in bindings.items():
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = 0.8 }}')
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """A running server on a fresh database prepared by ``hms demo --no-serve``; yields the
    base URL, a token per role (all signed in before any run, so the login rate limit that
    the fuzzing of /auth/login exhausts does not lock the test out) and the config file."""
    tmp = tmp_path_factory.mktemp("schemathesis")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_DATABASE")}
    env["HMS_DATA_DIR"] = str(tmp / "data")
    pg_name = f"hms_st_{os.getpid()}"
    if TEST_DB == "postgres":
        _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        _pg_admin(f'CREATE DATABASE "{pg_name}"')
        env["HMS_DATABASE_URL"] = _pg_database_url(pg_name)
    demo = subprocess.run([str(BIN / "hms"), "demo", "--no-serve"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    passwords = dict(re.findall(r"^\s+\w+\s+(demo_\w+)\s+(\S+)\s*$", demo.stdout, re.M))
    assert "demo_admin" in passwords, demo.stdout
    port = _free_port()
    server = subprocess.Popen([str(BIN / "hms"), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("server did not become ready")
        tokens = {user: _login(base, user, passwords[user])
                  for user in ("demo_admin", "demo_nurse", "demo_physician")}
        tokens["session_ending"] = _login(base, "demo_super_admin",
                                          passwords["demo_super_admin"])
        test_data = _test_data(base, tokens["demo_admin"], tokens["demo_nurse"])
        yield {"base": base, "tokens": tokens, "test_data": test_data, "dir": tmp}
    finally:
        server.terminate()
        server.wait(timeout=20)
        if TEST_DB == "postgres":
            _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def _run(server: dict[str, Any], name: str, token: str, *extra: str, phases: str,
         fuzzing: int, stateful: int = 0) -> subprocess.CompletedProcess[str]:
    """One schemathesis run. Example counts are per phase (config file, since ``-n`` on
    the command line would override them all); one worker, because CPython 3.11's AST
    parser is not thread-safe and Hypothesis parses lambdas while generating."""
    config = server["dir"] / f"{name}.toml"
    config.write_text(server["test_data"] + (
        "\n[phases.coverage]\nunexpected-methods = []\n"
        f"\n[phases.fuzzing]\ngeneration = {{ max-examples = {fuzzing} }}\n"
        f"\n[phases.stateful]\nmax-steps = 6\n"
        f"generation = {{ max-examples = {max(stateful, 1)} }}\n"))
    result = subprocess.run(
        [str(BIN / "schemathesis"), "--config-file", str(config), "run",
         f"{server['base']}/openapi.json",
         "-H", f"Authorization: Bearer {token}", "--checks", CHECKS, "--phases", phases,
         "--seed", SEED, "--no-color", "-w", "1", "--generation-database", "none",
         "--request-timeout", "30", *extra],
        capture_output=True, text=True, timeout=900, check=False,
    )
    # The whole report, for when the assertion's tail is not enough.
    (server["dir"] / f"{name}-report.txt").write_text(result.stdout)
    return result


def _assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"✅ Stateful", result.stdout), result.stdout[-3000:]


@pytest.mark.parametrize(("user", "phases", "fuzzing", "stateful"), [
    ("demo_admin", "examples,coverage,fuzzing,stateful", 8, 40),
    ("demo_nurse", "examples,fuzzing,stateful", 5, 20),
    ("demo_physician", "examples,fuzzing,stateful", 5, 20),
])
def test_no_5xx_and_responses_match_schema(demo_server, user, phases, fuzzing, stateful):
    result = _run(demo_server, user, demo_server["tokens"][user],
                  "--exclude-path-regex", SESSION_ENDING, phases=phases, fuzzing=fuzzing,
                  stateful=stateful)
    _assert_clean(result)


def test_session_ending_routes(demo_server):
    result = _run(demo_server, "session_ending", demo_server["tokens"]["session_ending"],
                  "--include-path-regex", SESSION_ENDING, phases="examples,fuzzing",
                  fuzzing=10)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
