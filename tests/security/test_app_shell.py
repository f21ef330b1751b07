"""The app shell: security headers on every answer, the /docs page's CSP, HSTS, CORS
allow-list, trusted hosts, the request body limit, and the refusal to start in production
with development or weak secrets."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from httpx import ASGITransport, AsyncClient

from hms.config import DEV_JWT_SECRET, Settings
from hms.core.permissions import Role
from hms.core.production import InsecureConfiguration, check_production_settings
from hms.main import create_app
from tests.documents.factories import make_pdf, multipart_body
from tests.identity.factories import auth_headers
from tests.patients.factories import seed_payload
from tests.visits.factories import make_visit

PROBLEM = "application/problem+json"
STRONG_SECRET = "k" * 48


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def production(settings: Settings, **overrides: object) -> Settings:
    """Settings a hospital could run in production (strong, non-default secrets)."""
    values: dict[str, object] = {
        "environment": "production", "jwt_secret": STRONG_SECRET,
        "encryption_keys": {"k2026": _key()}, "encryption_active_key": "k2026",
        "blind_index_key": _key(),
    }
    values.update(overrides)
    return settings.model_copy(update=values)


@pytest.fixture
async def make_client(db, settings) -> AsyncIterator:
    """Build a client of an app created with the given settings overrides."""
    clients: list[AsyncClient] = []

    async def build(base_url: str = "http://testserver", **overrides: object) -> AsyncClient:
        app = create_app(settings.model_copy(update=overrides), db=db)
        client = AsyncClient(transport=ASGITransport(app=app), base_url=base_url)
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()


def assert_security_headers(resp) -> None:
    h = resp.headers
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert h["cross-origin-resource-policy"] == "same-origin"
    assert "camera=()" in h["permissions-policy"]
    assert "geolocation=()" in h["permissions-policy"]
    assert h["x-request-id"]


API_CSP_DIRECTIVES = {"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'",
                      "form-action 'none'"}


def _directives(csp: str) -> set[str]:
    return {d.strip() for d in csp.split(";") if d.strip()}


class TestSecurityHeaders:
    """Every answer, whatever its status, carries the headers; API answers are no-store and
    have a CSP that allows nothing."""

    async def test_every_route_answers_with_the_security_headers(self, client, app):
        for path, item in app.openapi()["paths"].items():
            url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
            for method in item:
                resp = await client.request(method.upper(), url)
                assert_security_headers(resp)
                assert resp.headers["cache-control"] == "no-store", (method, path)
                assert _directives(resp.headers["content-security-policy"]) \
                    == API_CSP_DIRECTIVES, (method, path)

    async def test_errors_and_refusals_carry_them_too(self, client):
        cases = [
            await client.get("/api/v1/nothing-here"),                   # 404
            await client.delete("/health/live"),                        # 405
            await client.get("/api/v1/auth/me"),                        # 401
            await client.post("/api/v1/auth/login", json={"username": 1}),  # 422
            await client.get("/health/live", headers={"Host": "evil.example"}),  # 400
        ]
        assert [r.status_code for r in cases] == [404, 405, 401, 422, 400]
        for resp in cases:
            assert_security_headers(resp)
            assert resp.headers["content-type"].startswith(PROBLEM)

    async def test_a_signed_in_answer_with_patient_data_is_not_cached(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        created = await client.post("/api/v1/patients", headers=h, json=seed_payload())
        assert created.status_code == 201
        assert created.headers["cache-control"] == "no-store"
        assert_security_headers(created)

    async def test_no_hsts_on_plain_http_outside_production(self, client):
        resp = await client.get("/health/live")
        assert "strict-transport-security" not in resp.headers

    async def test_hsts_on_https_requests(self, make_client):
        client = await make_client(base_url="https://testserver")
        resp = await client.get("/health/live")
        assert resp.headers["strict-transport-security"] \
            == "max-age=31536000; includeSubDomains"

    async def test_hsts_always_in_production(self, db, settings):
        app = create_app(production(settings), db=db)
        async with AsyncClient(transport=ASGITransport(app=app),
                               base_url="http://testserver") as client:
            resp = await client.get("/health/live")
        assert resp.status_code == 200
        assert resp.headers["strict-transport-security"].startswith("max-age=31536000")


class TestDocsPage:
    """/docs runs the packaged Swagger UI under a CSP that allows its own files and its one
    inline script by a per-response nonce; nothing inline otherwise, nothing external."""

    async def test_inline_script_runs_by_nonce_only(self, client):
        page = await client.get("/docs")
        assert page.status_code == 200
        csp = _directives(page.headers["content-security-policy"])
        [script_src] = [d for d in csp if d.startswith("script-src ")]
        nonce = re.fullmatch(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})'",
                             script_src).group(1)
        assert {"default-src 'none'", "style-src 'self'", "img-src 'self' data:",
                "connect-src 'self'", "frame-ancestors 'none'"} <= csp
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        assert "unsafe-eval" not in page.headers["content-security-policy"]
        scripts = re.findall(r"<script([^>]*)>", page.text)
        assert len(scripts) == 2
        for attrs in scripts:
            src = re.search(r'src="([^"]+)"', attrs)
            if src:
                assert src.group(1).startswith("/static/swagger-ui/")
            else:
                assert f'nonce="{nonce}"' in attrs
        for url in re.findall(r'(?:href|src)="([^"]+)"', page.text):
            assert url.startswith("/static/swagger-ui/"), url
        assert "validator.swagger.io" not in page.text

    async def test_nonce_is_new_on_every_response(self, client):
        first = (await client.get("/docs")).headers["content-security-policy"]
        second = (await client.get("/docs")).headers["content-security-policy"]
        assert first != second


class TestCors:
    """Browsers on an allowed origin may call the API; any other origin gets no CORS grant."""

    ORIGIN = "https://ward.hospital.example"

    def _preflight(self, origin: str) -> dict[str, str]:
        return {"Origin": origin, "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "authorization,content-type,if-match"}

    async def test_preflight_from_an_allowed_origin(self, make_client):
        client = await make_client(cors_origins=[self.ORIGIN])
        resp = await client.options("/api/v1/visits/" + str(uuid.uuid4()),
                                    headers=self._preflight(self.ORIGIN))
        assert resp.status_code == 200
        assert resp.headers["access-control-allow-origin"] == self.ORIGIN
        assert "PUT" in resp.headers["access-control-allow-methods"]
        allowed = resp.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "if-match"} <= set(allowed.split(", "))
        assert "access-control-allow-credentials" not in resp.headers

    async def test_preflight_from_another_origin_is_refused(self, make_client):
        client = await make_client(cors_origins=[self.ORIGIN])
        resp = await client.options("/api/v1/patients/search",
                                    headers=self._preflight("https://evil.example"))
        assert resp.status_code == 400
        assert "access-control-allow-origin" not in resp.headers

    async def test_simple_request_from_another_origin_gets_no_grant(self, make_client):
        client = await make_client(cors_origins=[self.ORIGIN])
        allowed = await client.get("/health/live", headers={"Origin": self.ORIGIN})
        other = await client.get("/health/live", headers={"Origin": "https://evil.example"})
        assert allowed.headers["access-control-allow-origin"] == self.ORIGIN
        assert "access-control-allow-origin" not in other.headers

    async def test_no_origin_is_allowed_by_default(self, client):
        resp = await client.options("/api/v1/patients/search",
                                    headers=self._preflight(self.ORIGIN))
        assert "access-control-allow-origin" not in resp.headers
        assert resp.status_code >= 400


class TestTrustedHosts:
    """A Host header outside HMS_TRUSTED_HOSTS is refused with 400 problem+json."""

    @pytest.mark.parametrize("host", ["testserver", "localhost:8000", "127.0.0.1:8765",
                                      "[::1]:8000", "ward.localhost"])
    async def test_default_hosts_are_served(self, client, host):
        resp = await client.get("/health/live", headers={"Host": host})
        assert resp.status_code == 200, host

    @pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example",
                                      "localhost.evil.example", "testserver@evil.example",
                                      "", "bad host"])
    async def test_other_hosts_are_refused(self, client, host):
        resp = await client.get("/health/live", headers={"Host": host})
        assert resp.status_code == 400
        assert resp.headers["content-type"].startswith(PROBLEM)
        body = resp.json()
        assert body["status"] == 400 and body["code"] == "invalid_host"

    async def test_the_list_comes_from_settings(self, make_client):
        client = await make_client(trusted_hosts=["api.hospital.example", "*.ward.example"])
        assert (await client.get("/health/live")).status_code == 400
        for host in ("api.hospital.example", "icu.ward.example"):
            resp = await client.get("/health/live", headers={"Host": host})
            assert resp.status_code == 200, host


class TestBodySizeLimit:
    """JSON and form bodies above HMS_MAX_BODY_BYTES get 413 problem+json, whether the size
    is declared or streamed; the document upload keeps its own, larger limit."""

    async def test_declared_oversized_json_is_refused_before_reading(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        body = seed_payload(notes="x" * (1024 * 1024))
        resp = await client.post("/api/v1/patients", headers=h, json=body)
        assert resp.status_code == 413
        assert resp.headers["content-type"].startswith(PROBLEM)
        assert resp.json()["code"] == "payload_too_large"
        assert_security_headers(resp)

    async def test_streamed_oversized_body_is_cut_off(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        sent = []

        async def chunked():
            yield b'{"full_name": "'
            for _ in range(64):  # 64 x 32 KiB = 2 MiB, no Content-Length
                sent.append(1)
                yield b"a" * 32 * 1024
            yield b'"}'

        resp = await client.post("/api/v1/patients", content=chunked(),
                                 headers={**h, "Content-Type": "application/json"})
        assert resp.status_code == 413
        assert resp.headers["content-type"].startswith(PROBLEM)

    async def test_oversized_login_form_is_refused(self, client):
        resp = await client.post("/api/v1/auth/login",
                                 data={"username": "a", "password": "p" * (2 * 1024 * 1024)})
        assert resp.status_code == 413

    async def test_limit_comes_from_settings(self, make_client, session):
        client = await make_client(max_body_bytes=4096)
        resp = await client.post("/api/v1/auth/login",
                                 json={"username": "u" * 5000, "password": "x"})
        assert resp.status_code == 413

    async def test_bodies_under_the_limit_pass(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        # Unknown fields are refused (extra="forbid", seed 004 work): pad with whitespace.
        body = json.dumps(seed_payload()) + " " * 4000
        resp = await client.post("/api/v1/patients", content=body,
                                 headers={**h, "Content-Type": "application/json"})
        assert resp.status_code == 201, resp.text

    async def test_document_upload_is_exempt_up_to_its_own_limit(self, client, session):
        h = await auth_headers(client, session, Role.NURSE)
        visit = await make_visit(session)
        small = make_pdf()
        cut = small.rindex(b"%%EOF")  # a 2 MiB PDF: a long comment before the trailer
        pdf = small[:cut] + b"%" + b"0" * (2 * 1024 * 1024) + b"\n" + small[cut:]
        body, content_type = multipart_body([("file", "scan.pdf", "application/pdf", pdf)])
        resp = await client.post(f"/api/v1/visits/{visit.id}/documents", content=body,
                                 headers={**h, "Content-Type": content_type})
        assert resp.status_code == 201, resp.text
        assert resp.json()["size_bytes"] == len(pdf)


class TestProductionRefusesWeakSecrets:
    """HMS_ENVIRONMENT=production does not start with the development JWT key, a key under
    32 bytes, or the development encryption keys."""

    def test_development_jwt_key(self, settings):
        with pytest.raises(InsecureConfiguration, match="HMS_JWT_SECRET is the development"):
            check_production_settings(production(settings, jwt_secret=DEV_JWT_SECRET))

    def test_short_jwt_key(self, settings):
        short = "s3cr3t-but-only-31-bytes-long!!"
        assert len(short) == 31
        with pytest.raises(InsecureConfiguration, match="shorter than 32 bytes") as err:
            check_production_settings(production(settings, jwt_secret=short))
        assert short not in str(err.value)

    def test_development_encryption_keys(self, settings):
        for missing in ({"encryption_keys": {}}, {"blind_index_key": None}):
            with pytest.raises(InsecureConfiguration, match="HMS_ENCRYPTION_KEYS"):
                check_production_settings(production(settings, **missing))

    def test_malformed_encryption_key(self, settings):
        with pytest.raises(InsecureConfiguration, match="base64"):
            check_production_settings(production(settings, blind_index_key="not-base64!"))

    def test_every_problem_is_listed_at_once(self, settings):
        with pytest.raises(InsecureConfiguration) as err:
            check_production_settings(production(
                settings, jwt_secret=DEV_JWT_SECRET, encryption_keys={}))
        assert "HMS_JWT_SECRET" in str(err.value) and "HMS_ENCRYPTION_KEYS" in str(err.value)

    def test_create_app_refuses(self, settings, db):
        with pytest.raises(InsecureConfiguration):
            create_app(production(settings, jwt_secret="short"), db=db)

    def test_strong_secrets_start(self, settings, db):
        check_production_settings(production(settings))
        assert create_app(production(settings), db=db) is not None

    def test_development_defaults_are_fine_outside_production(self, settings):
        check_production_settings(settings.model_copy(update={
            "environment": "development", "jwt_secret": DEV_JWT_SECRET}))

    def test_the_server_process_exits_with_the_reason(self, tmp_path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_")}
        env.update(HMS_ENVIRONMENT="production", HMS_DATA_DIR=str(tmp_path))
        result = subprocess.run([sys.executable, "-c", "import hms.asgi"], env=env,
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode != 0
        assert "InsecureConfiguration" in result.stderr
        assert "HMS_JWT_SECRET is the development key" in result.stderr
        assert DEV_JWT_SECRET not in result.stderr
