"""Brute force with the shipped defaults (lockout after 5 failures, 10 logins a minute per
account, 20 per IP): a password guesser, a password sprayer and a distributed guesser all
run into the lockout and the rate limit, never learn which usernames exist, and never get
a token, even when the right password is in their list.

The owners' detailed tests are ``tests/identity/test_lockout.py`` and
``tests/identity/test_rate_limits.py``; this is the attacker's end-to-end view.

Source: seed 003 NFR-SEC-001 ("lock accounts after 5 failed login attempts") and 8.1
("rate limiting per user/IP"); NIST SP 800-63B 5.2.2; OWASP Authentication Cheat Sheet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from httpx import ASGITransport, AsyncClient

from hms.config import Settings
from hms.core.permissions import Role
from hms.identity import throttling
from tests.identity.factories import PASSWORD, make_user

LOGIN = "/api/v1/auth/login"
PROBLEM = "application/problem+json"
WORDLIST = ["123456", "password", "Winter2026!", "Hospital-2026", "Qwerty-12345",
            "Welcome-Nurse1", PASSWORD, "Letmein-2026!", "Summer-2026!!", "Admin-12345!",
            "Passw0rd-2026", "Iloveyou-2026", "Dragon-2026!!", "Monkey-2026!!", "Shadow-2026!"]


@pytest.fixture
async def defended(app, settings: Settings) -> AsyncIterator[object]:
    """The app with the rate limits on at their shipped defaults (the suite turns them off;
    only the switch is set here, every limit keeps its default value)."""
    defaults = Settings.model_fields
    for name in ("rate_limit_login_per_ip", "rate_limit_login_per_account",
                 "lockout_threshold"):
        assert getattr(settings, name) == defaults[name].default, name
    app.state.settings = settings.model_copy(update={"rate_limit_enabled": True})
    yield app
    await throttling.aclose(app)


def _client(app, ip: str) -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=app, client=(ip, 40000)),
                       base_url="http://testserver")


def _assert_throttled(resp) -> None:
    assert resp.status_code == 429, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    assert 1 <= int(resp.headers["retry-after"]) <= 60


async def test_guessing_one_account_meets_the_lockout_then_the_rate_limit(defended, session):
    victim = await make_user(session, Role.NURSE)
    async with _client(defended, "203.0.113.10") as attacker:
        answers = [await attacker.post(LOGIN, data={"username": victim.username,
                                                    "password": word})
                   for word in WORDLIST]
        unknown = await attacker.post(LOGIN, data={"username": "no.such.user",
                                                   "password": PASSWORD})
    codes = [a.status_code for a in answers]
    assert 200 not in codes, codes
    # Five wrong guesses lock the account: the right password (7th) is refused exactly
    # like a wrong one; from the 11th attempt the per-account limit answers 429.
    assert codes[:10] == [401] * 10, codes
    assert answers[6].json() == answers[0].json()
    assert answers[6].json()["detail"] == "Incorrect username or password"
    for resp in answers[10:]:
        _assert_throttled(resp)
    # The per-account limit does not tell the attacker the account exists: an unknown
    # username from the same IP is answered by the IP budget only.
    assert unknown.status_code in (401, 429)


async def test_the_victim_is_locked_out_from_any_ip_until_the_window_ends(defended, session):
    victim = await make_user(session, Role.NURSE)
    async with _client(defended, "203.0.113.11") as attacker:
        for word in WORDLIST[:5]:
            await attacker.post(LOGIN, data={"username": victim.username, "password": word})
    async with _client(defended, "198.51.100.7") as ward_pc:
        resp = await ward_pc.post(LOGIN, data={"username": victim.username,
                                               "password": PASSWORD})
    assert resp.status_code == 401


async def test_password_spraying_from_one_ip_is_cut_off(defended, session):
    real = [await make_user(session, Role.NURSE) for _ in range(3)]
    usernames = [u.username for u in real] + [f"guessed.user{i}" for i in range(22)]
    async with _client(defended, "203.0.113.12") as sprayer:
        answers = [await sprayer.post(LOGIN, data={"username": name,
                                                   "password": "Winter2026!"})
                   for name in usernames]
    codes = [a.status_code for a in answers]
    assert 200 not in codes
    assert codes[:20] == [401] * 20, codes
    # Existing and made-up usernames get the very same answer.
    assert len({a.text for a in answers[:20]}) == 1
    for resp in answers[20:]:
        _assert_throttled(resp)


async def test_guessing_from_many_ips_hits_the_account_limit(defended, session):
    victim = await make_user(session, Role.NURSE)
    codes = []
    for n, word in enumerate(WORDLIST[:12]):
        async with _client(defended, f"192.0.2.{n + 1}") as bot:
            resp = await bot.post(LOGIN, data={"username": victim.username, "password": word})
            codes.append(resp.status_code)
            if n >= 10:
                _assert_throttled(resp)
    assert 200 not in codes
    assert codes[:10] == [401] * 10
