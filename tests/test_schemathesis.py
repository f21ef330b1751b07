"""Schemathesis against a real ``hms`` server started the way a hospital would: ``hms demo``
(demo users and imported Synthea patients), then ``hms serve``. Bounded example counts keep
it to a minute or two; it runs on the database under test (SQLite or PostgreSQL).

Checks: no 5xx, status codes / content types / bodies conform to the OpenAPI document.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_DB, _pg_admin, _pg_database_url

BIN = Path(sys.executable).parent
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    """A running server on a fresh database prepared by ``hms demo --no-serve``; yields the
    base URL and ``{role: password}`` parsed from the demo's output."""
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
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("server did not become ready")
        yield base, passwords
    finally:
        server.terminate()
        server.wait(timeout=20)
        if TEST_DB == "postgres":
            _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def _token(base: str, username: str, password: str) -> str:
    resp = httpx.post(f"{base}/api/v1/auth/login",
                      data={"username": username, "password": password}, timeout=30)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def _run(base: str, token: str, *extra: str, examples: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "schemathesis"), "run", f"{base}/openapi.json",
         "-H", f"Authorization: Bearer {token}", "--checks", CHECKS,
         "-n", str(examples), "--seed", "20261122", "--no-color", "-w", "2",
         "--generation-database", "none", "--request-timeout", "30", *extra],
        capture_output=True, text=True, timeout=900, check=False,
    )


@pytest.mark.parametrize(("user", "examples"), [("demo_admin", 12), ("demo_nurse", 6),
                                                ("demo_physician", 6)])
def test_no_5xx_and_responses_match_schema(demo_server, user, examples):
    base, passwords = demo_server
    token = _token(base, user, passwords[user])
    # Logout and user updates would end this token's session mid-run; they get their own run.
    result = _run(base, token, "--exclude-path", "/api/v1/auth/logout",
                  "--exclude-path-regex", r"^/api/v1/admin/users/\{user_id\}$",
                  examples=examples)
    assert result.returncode == 0, result.stdout[-6000:]


def test_session_ending_routes(demo_server):
    base, passwords = demo_server
    token = _token(base, "demo_admin", passwords["demo_admin"])
    result = _run(base, token, "--include-path", "/api/v1/auth/logout",
                  "--include-path-regex", r"^/api/v1/admin/users/\{user_id\}$", examples=10)
    assert result.returncode == 0, result.stdout[-6000:]
