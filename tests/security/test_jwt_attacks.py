"""Attacks on the bearer tokens: every forged, stale or misused token gets 401 problem+json
(never 200, never 500), and no claim in a token can raise the caller's rights.

Source: RFC 8725 (JWT Best Current Practices) sections 2.1 (alg none), 2.8 (token-type
confusion), 3.1 (algorithm verification); OWASP ASVS 4.0 V3.5.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest

from hms.core.permissions import Role
from tests.identity.factories import login, make_user

PROBLEM = "application/problem+json"


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(resp) -> None:
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    assert resp.headers["www-authenticate"] == "Bearer"
    assert resp.json()["status"] == 401


@pytest.fixture
async def nurse(client, session):
    """A nurse, signed in for real: ``(user, tokens)``."""
    user = await make_user(session, Role.NURSE)
    return user, await login(client, user.username)


@pytest.fixture
async def admin_headers(client, session) -> dict[str, str]:
    user = await make_user(session, Role.ADMIN)
    return _bearer((await login(client, user.username))["access_token"])


class TestForgedTokens:
    """Tokens not signed by the server's key with the server's algorithm are refused."""

    async def test_the_genuine_token_works(self, client, nurse):
        _, tokens = nurse
        assert (await client.get("/api/v1/auth/me",
                                 headers=_bearer(tokens["access_token"]))).status_code == 200

    @pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
    async def test_alg_none(self, client, nurse, alg):
        _, tokens = nurse
        claims = _claims(tokens["access_token"])
        for token in (f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims)}.",
                      f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims)}"):
            assert_refused(await client.get("/api/v1/auth/me", headers=_bearer(token)))

    async def test_pyjwt_unsigned_token(self, client, nurse):
        _, tokens = nurse
        token = jwt.encode(_claims(tokens["access_token"]), None, algorithm="none")
        assert_refused(await client.get("/api/v1/auth/me", headers=_bearer(token)))

    async def test_wrong_key(self, client, nurse):
        _, tokens = nurse
        token = jwt.encode(_claims(tokens["access_token"]),
                           "an-attacker-key-that-is-long-enough-for-hs256!!", algorithm="HS256")
        assert_refused(await client.get("/api/v1/auth/me", headers=_bearer(token)))

    @pytest.mark.filterwarnings("ignore:The HMAC key is")
    async def test_right_key_other_algorithm(self, client, nurse, settings):
        _, tokens = nurse
        token = jwt.encode(_claims(tokens["access_token"]), settings.jwt_secret,
                           algorithm="HS512")
        assert_refused(await client.get("/api/v1/auth/me", headers=_bearer(token)))

    async def test_payload_swapped_under_a_genuine_signature(self, client, session, nurse):
        _, tokens = nurse
        admin = await make_user(session, Role.ADMIN)
        header, _, signature = tokens["access_token"].split(".")
        claims = {**_claims(tokens["access_token"]), "sub": str(admin.id)}
        token = f"{header}.{_b64(claims)}.{signature}"
        assert_refused(await client.get("/api/v1/admin/users", headers=_bearer(token)))

    @pytest.mark.parametrize("token", [
        "", "garbage", "a.b.c", "..", "e30.e30.", "Bearer x", "\u00e9\u00e8", "x" * 8000,
    ])
    async def test_malformed_tokens(self, client, token):
        resp = await client.get("/api/v1/auth/me",
                                headers={"Authorization": f"Bearer {token}".encode()})
        assert_refused(resp)

    @pytest.mark.parametrize("missing", ["exp", "jti", "sid", "sub", "typ", "iat"])
    async def test_required_claim_missing(self, client, nurse, settings, missing):
        _, tokens = nurse
        claims = _claims(tokens["access_token"])
        del claims[missing]
        token = jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
        assert_refused(await client.get("/api/v1/auth/me", headers=_bearer(token)))

    async def test_unknown_user_or_session(self, client, nurse, settings):
        _, tokens = nurse
        for field in ("sub", "sid"):
            claims = {**_claims(tokens["access_token"]), field: str(uuid.uuid4())}
            token = jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
            assert_refused(await client.get("/api/v1/auth/me", headers=_bearer(token)))


class TestStaleTokens:
    """Expired, logged-out and deactivated users' tokens stop at once."""

    async def test_expired(self, client, nurse, settings):
        _, tokens = nurse
        now = int(time.time())
        claims = {**_claims(tokens["access_token"]), "iat": now - 3600, "exp": now - 60}
        token = jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
        resp = await client.get("/api/v1/auth/me", headers=_bearer(token))
        assert_refused(resp)
        assert resp.json()["detail"] == "Token expired"

    async def test_revoked_by_logout(self, client, nurse):
        _, tokens = nurse
        h = _bearer(tokens["access_token"])
        assert (await client.post("/api/v1/auth/logout", headers=h)).status_code == 204
        assert_refused(await client.get("/api/v1/auth/me", headers=h))
        assert_refused(await client.post("/api/v1/auth/refresh",
                                         json={"refresh_token": tokens["refresh_token"]}))

    async def test_deactivated_user(self, client, nurse, admin_headers):
        user, tokens = nurse
        h = _bearer(tokens["access_token"])
        current = await client.get("/api/v1/admin/users", headers=admin_headers,
                                   params={"page_size": 100})
        [row] = [u for u in current.json()["items"] if u["id"] == str(user.id)]
        body = {"is_active": False}
        if "version" in row:
            body["version"] = row["version"]
        off = await client.put(f"/api/v1/admin/users/{user.id}", headers=admin_headers,
                               json=body)
        assert off.status_code == 200, off.text
        assert_refused(await client.get("/api/v1/auth/me", headers=h))
        assert_refused(await client.get("/api/v1/patients/search", headers=h,
                                        params={"name": "a"}))
        assert_refused(await client.post("/api/v1/auth/refresh",
                                         json={"refresh_token": tokens["refresh_token"]}))
        relogin = await client.post("/api/v1/auth/login",
                                    data={"username": user.username,
                                          "password": "Correct-Horse-42!"})
        assert relogin.status_code == 401


class TestClaimsGrantNothing:
    """Rights come from the user's row, never from the token: a re-signed token with an
    admin role claim is still a nurse's."""

    async def test_forged_role_claim_with_the_right_key(self, client, nurse, settings):
        _, tokens = nurse
        claims = {**_claims(tokens["access_token"]), "role": "admin",
                  "permissions": ["*:*:*", "users:manage", "reports:read"],
                  "scopes": {"patient:read": "all"}, "is_superuser": True}
        token = jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
        h = _bearer(token)
        me = await client.get("/api/v1/auth/me", headers=h)
        assert me.status_code == 200 and me.json()["role"] == "nurse"
        for path in ("/api/v1/admin/users", "/api/v1/reports/dashboard"):
            resp = await client.get(path, headers=h)
            assert resp.status_code == 403, (path, resp.text)
            assert resp.headers["content-type"].startswith(PROBLEM)


class TestTokenTypeConfusion:
    """An access token is not a refresh token and the other way round."""

    async def test_refresh_token_as_bearer(self, client, nurse):
        _, tokens = nurse
        assert_refused(await client.get("/api/v1/auth/me",
                                        headers=_bearer(tokens["refresh_token"])))

    async def test_access_token_to_refresh(self, client, nurse):
        _, tokens = nurse
        assert_refused(await client.post("/api/v1/auth/refresh",
                                         json={"refresh_token": tokens["access_token"]}))

    async def test_access_claims_relabelled_as_refresh(self, client, nurse, settings):
        _, tokens = nurse
        claims = {**_claims(tokens["access_token"]), "typ": "refresh"}
        token = jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
        # Signed with the right key, but its jti was never issued as a refresh token.
        assert_refused(await client.post("/api/v1/auth/refresh",
                                         json={"refresh_token": token}))
