"""Brute force against the credential routes meets 429 + Retry-After, per IP and per account.

Each test runs on the in-memory limiter and on a real Redis (db 14, a key prefix of its
own). The client address is set on the ASGI transport: X-Forwarded-For is not trusted, so
an attacker cannot pick their own IP by header.

Source: OWASP Authentication Cheat Sheet ("Login Throttling"); NIST SP 800-63B 5.2.2;
RFC 6585 section 4.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
import redis.asyncio as aioredis
from httpx import ASGITransport, AsyncClient, Response

from hms.core.permissions import Role
from hms.identity import throttling
from tests.identity.factories import PASSWORD, make_user

REDIS_URL = os.environ.get("HMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
PROBLEM = "application/problem+json"

Clients = Callable[[str], AbstractAsyncContextManager[AsyncClient]]


@pytest.fixture(params=["memory", "redis"])
async def limited(request, app) -> AsyncIterator[Callable[..., Clients]]:
    """Turn the limits on for ``app`` (memory or Redis) and hand out clients by IP."""
    prefix = f"hms-test:{uuid.uuid4().hex}"

    def configure(**limits: str) -> Clients:
        app.state.settings = app.state.settings.model_copy(update={
            "rate_limit_enabled": True,
            "redis_url": REDIS_URL if request.param == "redis" else None,
            "rate_limit_key_prefix": prefix,
            "rate_limit_login_per_ip": "1000/minute",
            "rate_limit_login_per_account": "1000/minute",
            "rate_limit_refresh_per_ip": "1000/minute",
            "rate_limit_refresh_per_account": "1000/minute",
            **limits,
        })

        def client_from(ip: str) -> AbstractAsyncContextManager[AsyncClient]:
            return AsyncClient(transport=ASGITransport(app=app, client=(ip, 40000)),
                               base_url="http://testserver")

        return client_from

    yield configure
    await throttling.aclose(app)
    if request.param == "redis":
        client = aioredis.Redis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def _login(client: AsyncClient, username: str, password: str = "wrong-password-1"
                 ) -> Response:
    return await client.post(LOGIN, data={"username": username, "password": password})


def _assert_limited(resp: Response) -> int:
    assert resp.status_code == 429, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    assert resp.json()["code"] == "rate_limited"
    retry_after = int(resp.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert resp.json()["retry_after"] == retry_after
    return retry_after


class TestLoginPerIp:
    async def test_brute_force_from_one_ip_hits_429_with_retry_after(self, limited):
        client_from = limited(rate_limit_login_per_ip="5/minute")
        async with client_from("10.0.0.1") as attacker:
            for i in range(5):  # a different (unknown) account each time
                assert (await _login(attacker, f"nobody{i}")).status_code == 401
            _assert_limited(await _login(attacker, "nobody-else"))

    async def test_another_ip_is_unaffected(self, limited, session):
        user = await make_user(session, Role.NURSE)
        client_from = limited(rate_limit_login_per_ip="3/minute")
        async with client_from("10.0.0.1") as attacker:
            for i in range(4):
                await _login(attacker, f"nobody{i}")
            _assert_limited(await _login(attacker, "nobody"))
        async with client_from("10.0.0.2") as colleague:
            resp = await _login(colleague, user.username, PASSWORD)
            assert resp.status_code == 200, resp.text

    async def test_forwarded_for_header_does_not_buy_a_new_budget(self, limited):
        client_from = limited(rate_limit_login_per_ip="2/minute")
        async with client_from("10.0.0.1") as attacker:
            for i in range(2):
                await _login(attacker, f"nobody{i}")
            resp = await attacker.post(LOGIN, data={"username": "x", "password": "y"},
                                       headers={"X-Forwarded-For": "203.0.113.9"})
            _assert_limited(resp)


class TestLoginPerAccount:
    async def test_account_limit_holds_across_ips(self, limited, session):
        user = await make_user(session, Role.PHYSICIAN, email="dr.target@hospital.example")
        client_from = limited(rate_limit_login_per_account="3/minute")
        # Three guesses from three IPs, spelling the account three ways.
        for ip, name in (("10.0.1.1", user.username), ("10.0.1.2", user.username.upper()),
                         ("10.0.1.3", f"  {user.username}  ")):
            async with client_from(ip) as attacker:
                assert (await _login(attacker, name)).status_code == 401
        async with client_from("10.0.1.4") as attacker:
            _assert_limited(await _login(attacker, user.username))
            # Even the right password waits: the budget is the account's, not the guesser's.
            _assert_limited(await _login(attacker, user.username, PASSWORD))

    async def test_other_accounts_log_in_meanwhile(self, limited, session):
        target = await make_user(session, Role.NURSE)
        other = await make_user(session, Role.NURSE)
        client_from = limited(rate_limit_login_per_account="2/minute")
        async with client_from("10.0.2.1") as client:
            for _ in range(3):
                await _login(client, target.username)
            resp = await _login(client, other.username, PASSWORD)
            assert resp.status_code == 200, resp.text

    async def test_json_body_is_counted_like_the_form(self, limited, session):
        user = await make_user(session, Role.NURSE)
        client_from = limited(rate_limit_login_per_account="2/minute")
        async with client_from("10.0.3.1") as client:
            await _login(client, user.username)
            await client.post(LOGIN, json={"username": user.username.upper(),
                                           "password": "wrong-password-2"})
            resp = await client.post(LOGIN, json={"username": user.username,
                                                  "password": PASSWORD})
            _assert_limited(resp)


class TestWindowExpiry:
    async def test_access_comes_back_when_the_window_closes(self, limited, session):
        user = await make_user(session, Role.NURSE)
        client_from = limited(rate_limit_login_per_ip="2/1s")
        async with client_from("10.0.4.1") as client:
            await _login(client, user.username)
            await _login(client, user.username)
            resp = await _login(client, user.username, PASSWORD)
            assert resp.status_code == 429
            assert resp.headers["Retry-After"] == "1"
            await asyncio.sleep(1.1)
            resp = await _login(client, user.username, PASSWORD)
            assert resp.status_code == 200, resp.text


class TestRefresh:
    async def test_refresh_is_limited_per_ip(self, limited):
        client_from = limited(rate_limit_refresh_per_ip="3/minute")
        async with client_from("10.0.5.1") as client:
            for _ in range(3):
                resp = await client.post(REFRESH, json={"refresh_token": "not-a-token"})
                assert resp.status_code == 401
            _assert_limited(await client.post(REFRESH, json={"refresh_token": "not-a-token"}))
        async with client_from("10.0.5.2") as client:
            resp = await client.post(REFRESH, json={"refresh_token": "not-a-token"})
            assert resp.status_code == 401

    async def test_refresh_is_limited_per_token_subject_across_ips(self, limited, session):
        user = await make_user(session, Role.NURSE)
        client_from = limited(rate_limit_refresh_per_account="2/minute")
        async with client_from("10.0.6.1") as client:
            tokens = (await _login(client, user.username, PASSWORD)).json()
            resp = await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
            assert resp.status_code == 200, resp.text
            fresh = resp.json()["refresh_token"]
        async with client_from("10.0.6.2") as client:
            assert (await client.post(REFRESH, json={"refresh_token": fresh})).status_code == 200
        async with client_from("10.0.6.3") as client:
            _assert_limited(await client.post(REFRESH, json={"refresh_token": fresh}))


class TestPasswordRoutes:
    async def test_change_password_guessing_is_limited_per_account(self, limited, session):
        user = await make_user(session, Role.NURSE)
        client_from = limited(rate_limit_login_per_account="3/minute")
        async with client_from("10.0.7.1") as client:
            tokens = (await _login(client, user.username, PASSWORD)).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        body = {"current_password": "guess-number-1", "new_password": "Another-Horse-43!"}
        statuses = []
        for i in range(3):
            async with client_from(f"10.0.7.{10 + i}") as client:
                resp = await client.post("/api/v1/auth/change-password", json=body,
                                         headers=headers)
                statuses.append(resp.status_code)
        assert 429 not in statuses and all(400 <= s < 500 for s in statuses), statuses
        async with client_from("10.0.7.99") as client:
            _assert_limited(await client.post("/api/v1/auth/change-password", json=body,
                                              headers=headers))
            # The MFA routes check secrets too and share the account's budget.
            _assert_limited(await client.post("/api/v1/auth/mfa/confirm",
                                              json={"code": "123456"}, headers=headers))

    async def test_other_auth_routes_are_not_limited(self, limited, session):
        user = await make_user(session, Role.NURSE)
        client_from = limited(rate_limit_login_per_ip="1/minute",
                              rate_limit_login_per_account="1/minute")
        async with client_from("10.0.8.1") as client:
            tokens = (await _login(client, user.username, PASSWORD)).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            for _ in range(5):
                assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200


async def test_limits_off_by_setting(app, session):
    """The suite runs with HMS_RATE_LIMIT_ENABLED=false: no attempt is ever refused."""
    assert app.state.settings.rate_limit_enabled is False
    async with AsyncClient(transport=ASGITransport(app=app, client=("10.0.9.1", 1)),
                           base_url="http://testserver") as client:
        for i in range(30):
            assert (await _login(client, f"nobody{i}")).status_code == 401
