"""TOTP MFA (RFC 6238, pyotp) with recovery codes: enrolment, login, replay, lockout, and the
enrolment requirement for the roles in ``HMS_MFA_REQUIRED_ROLES`` (seed 003 NFR-SEC-001:
"support MFA for privileged accounts")."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from sqlalchemy import func, select

from hms.audit import service as audit
from hms.core.permissions import Role
from hms.identity.models import MfaRecoveryCode
from tests.identity.factories import PASSWORD, login, make_user, user_columns

LOGIN = "/api/v1/auth/login"


def _bearer(pair: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def _code(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def _wrong_code(secret: str) -> str:
    valid = {_code(secret, k) for k in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in valid)


async def _enrol(client, h) -> tuple[str, list[str]]:
    """Enrol and confirm MFA with the current code; returns (secret, recovery codes)."""
    enrolment = await client.post("/api/v1/auth/mfa/enroll", headers=h)
    assert enrolment.status_code == 200, enrolment.text
    secret = enrolment.json()["secret"]
    confirmed = await client.post("/api/v1/auth/mfa/confirm", headers=h,
                                  json={"code": _code(secret)})
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


@pytest.fixture
def enforced(live_settings, monkeypatch):
    """MFA enforcement on (the suite runs with HMS_MFA_ENFORCED=false)."""
    monkeypatch.setattr(live_settings, "mfa_enforced", True)
    return live_settings


class TestEnrolment:
    async def test_enrol_returns_secret_and_uri_not_active_until_confirmed(
            self, client, session):
        nurse = await make_user(session, Role.NURSE)
        h = _bearer(await login(client, nurse.username))
        resp = await client.post("/api/v1/auth/mfa/enroll", headers=h)
        assert resp.status_code == 200
        body = resp.json()
        uri = urlparse(body["otpauth_uri"])
        assert uri.scheme == "otpauth" and uri.netloc == "totp"
        assert parse_qs(uri.query)["secret"] == [body["secret"]]
        assert parse_qs(uri.query)["issuer"] == ["hms"]
        # Pending only: logging in still needs no code.
        assert (await login(client, nurse.username))["access_token"]
        me = (await client.get("/api/v1/auth/me", headers=h)).json()
        assert me["mfa_enabled"] is False

    async def test_secret_is_stored_encrypted(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        h = _bearer(await login(client, nurse.username))
        secret = (await client.post("/api/v1/auth/mfa/enroll", headers=h)).json()["secret"]
        stored = (await user_columns(session, nurse.id, "mfa_secret"))["mfa_secret"]
        assert secret not in stored and stored.startswith("v1:mfa-")

    async def test_confirm_with_wrong_code_is_refused(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        h = _bearer(await login(client, nurse.username))
        secret = (await client.post("/api/v1/auth/mfa/enroll", headers=h)).json()["secret"]
        resp = await client.post("/api/v1/auth/mfa/confirm", headers=h,
                                 json={"code": _wrong_code(secret)})
        assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "code"

    async def test_confirm_returns_ten_recovery_codes_stored_hashed(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        h = _bearer(await login(client, nurse.username))
        _, codes = await _enrol(client, h)
        assert len(codes) == len(set(codes)) == 10
        stored = set((await session.scalars(select(MfaRecoveryCode.code_hash).where(
            MfaRecoveryCode.user_id == nurse.id))).all())
        assert len(stored) == 10 and not stored & set(codes)
        assert (await client.get("/api/v1/auth/me", headers=h)).json()["mfa_enabled"] is True
        assert await audit.count_events(session, action="mfa_enroll", user_id=nurse.id) == 1
        assert await audit.count_events(session, action="mfa_enable", user_id=nurse.id) == 1

    async def test_enrolling_again_while_active_is_refused(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        h = _bearer(await login(client, nurse.username))
        await _enrol(client, h)
        assert (await client.post("/api/v1/auth/mfa/enroll", headers=h)).status_code == 409


class TestLogin:
    async def test_login_needs_a_code_after_the_password(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        secret, _ = await _enrol(client, _bearer(await login(client, nurse.username)))
        missing = await client.post(LOGIN, data={"username": nurse.username,
                                                 "password": PASSWORD})
        assert missing.status_code == 401 and missing.json()["code"] == "mfa_required"
        # A wrong password never reveals that MFA is on.
        wrong = await client.post(LOGIN, data={"username": nurse.username,
                                               "password": "Wrong-guess-123"})
        assert wrong.json()["code"] == "unauthorized"
        ok = await client.post(LOGIN, data={"username": nurse.username, "password": PASSWORD,
                                            "otp": _code(secret, 1)})
        assert ok.status_code == 200, ok.text

    async def test_json_and_oauth2_client_secret_carry_the_code(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        secret, codes = await _enrol(client, _bearer(await login(client, nurse.username)))
        as_json = await client.post(LOGIN, json={"username": nurse.username,
                                                 "password": PASSWORD,
                                                 "otp": _code(secret, 1)})
        assert as_json.status_code == 200
        as_client_secret = await client.post(LOGIN, data={
            "grant_type": "password", "username": nurse.username, "password": PASSWORD,
            "client_id": "swagger", "client_secret": codes[0]})
        assert as_client_secret.status_code == 200

    async def test_replayed_code_is_refused(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        secret, _ = await _enrol(client, _bearer(await login(client, nurse.username)))
        code = _code(secret, 1)
        first = await client.post(LOGIN, data={"username": nurse.username,
                                               "password": PASSWORD, "otp": code})
        assert first.status_code == 200
        again = await client.post(LOGIN, data={"username": nurse.username,
                                               "password": PASSWORD, "otp": code})
        assert again.status_code == 401 and again.json()["code"] == "mfa_invalid"
        # The confirmation code cannot be replayed either (same or older time step).
        older = await client.post(LOGIN, data={"username": nurse.username,
                                               "password": PASSWORD, "otp": _code(secret)})
        assert older.status_code == 401

    async def test_wrong_codes_count_towards_the_lockout(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        secret, _ = await _enrol(client, _bearer(await login(client, nurse.username)))
        for _ in range(5):
            resp = await client.post(LOGIN, data={"username": nurse.username,
                                                  "password": PASSWORD,
                                                  "otp": _wrong_code(secret)})
            assert resp.status_code == 401
        locked = await client.post(LOGIN, data={"username": nurse.username,
                                                "password": PASSWORD, "otp": _code(secret, 1)})
        unknown = await client.post(LOGIN, data={"username": "no.such.user",
                                                 "password": PASSWORD})
        assert locked.status_code == 401 and locked.json() == unknown.json()
        assert await audit.count_events(session, action="login_locked", user_id=nurse.id) == 1

    async def test_recovery_code_works_once(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        _, codes = await _enrol(client, _bearer(await login(client, nurse.username)))
        code = codes[3].lower().replace("-", " ")  # typed loosely: still accepted
        first = await client.post(LOGIN, data={"username": nurse.username,
                                               "password": PASSWORD, "otp": code})
        assert first.status_code == 200
        second = await client.post(LOGIN, data={"username": nurse.username,
                                                "password": PASSWORD, "otp": codes[3]})
        assert second.status_code == 401 and second.json()["code"] == "mfa_invalid"
        events = await audit.list_events(session, action="mfa_recovery_used")
        assert [e.changes for e in events if e.user_id == nurse.id] == [
            {"recovery_codes_left": 9}]


class TestDisable:
    async def test_disable_needs_proof(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        h = _bearer(await login(client, nurse.username))
        secret, _ = await _enrol(client, h)
        nothing = await client.post("/api/v1/auth/mfa/disable", headers=h, json={})
        assert nothing.status_code == 422
        wrong = await client.post("/api/v1/auth/mfa/disable", headers=h,
                                  json={"password": "Wrong-guess-123"})
        assert wrong.status_code == 422
        assert await audit.count_events(session, action="login_failed", user_id=nurse.id) == 1
        ok = await client.post("/api/v1/auth/mfa/disable", headers=h,
                               json={"code": _code(secret, 1)})
        assert ok.status_code == 204
        assert (await login(client, nurse.username))["access_token"]  # no code needed now
        assert await audit.count_events(session, action="mfa_disable", user_id=nurse.id) == 1
        left = await session.scalar(select(func.count()).select_from(MfaRecoveryCode).where(
            MfaRecoveryCode.user_id == nurse.id))
        assert left == 0

    async def test_disable_with_password(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        h = _bearer(await login(client, nurse.username))
        await _enrol(client, h)
        ok = await client.post("/api/v1/auth/mfa/disable", headers=h,
                               json={"password": PASSWORD})
        assert ok.status_code == 204
        assert (await client.post("/api/v1/auth/mfa/disable", headers=h,
                                  json={"password": PASSWORD})).status_code == 409

    async def test_admin_reset_mfa_for_a_lost_device(self, client, session):
        admin = await make_user(session, Role.ADMIN)
        nurse = await make_user(session, Role.NURSE)
        nurse_h = _bearer(await login(client, nurse.username))
        await _enrol(client, nurse_h)
        admin_h = _bearer(await login(client, admin.username))
        resp = await client.put(f"/api/v1/admin/users/{nurse.id}", headers=admin_h,
                                json={"reset_mfa": True})
        assert resp.status_code == 200 and resp.json()["mfa_enabled"] is False
        assert (await client.get("/api/v1/auth/me", headers=nurse_h)).status_code == 401
        assert (await login(client, nurse.username))["access_token"]


class TestRequiredRoles:
    async def test_admin_without_mfa_is_restricted_until_enrolled(self, client, session,
                                                                  enforced):
        admin = await make_user(session, Role.ADMIN)
        pair = await login(client, admin.username)
        assert pair["session_restriction"] == "mfa_enrollment_required"
        h = _bearer(pair)
        refused = await client.get("/api/v1/admin/users", headers=h)
        assert refused.status_code == 403
        assert refused.json()["code"] == "mfa_enrollment_required"
        assert (await client.get("/api/v1/auth/me", headers=h)).status_code == 200
        assert (await client.get("/api/v1/auth/sessions", headers=h)).status_code == 403
        secret, _ = await _enrol(client, h)
        assert (await client.get("/api/v1/admin/users", headers=h)).status_code == 200
        again = await client.post(LOGIN, data={"username": admin.username,
                                               "password": PASSWORD, "otp": _code(secret, 1)})
        assert again.status_code == 200 and again.json()["session_restriction"] is None

    async def test_other_roles_are_not_required(self, client, session, enforced):
        nurse = await make_user(session, Role.NURSE)
        assert (await login(client, nurse.username))["session_restriction"] is None

    async def test_required_roles_come_from_settings(self, client, session, enforced,
                                                     monkeypatch):
        monkeypatch.setattr(enforced, "mfa_required_roles", ["nurse"])
        nurse = await make_user(session, Role.NURSE)
        admin = await make_user(session, Role.ADMIN)
        assert (await login(client, nurse.username))["session_restriction"] == (
            "mfa_enrollment_required")
        assert (await login(client, admin.username))["session_restriction"] is None

    async def test_relaxed_enforcement_lets_admins_work(self, client, session, live_settings):
        assert live_settings.mfa_enforced is False  # the suite's default (tests/conftest.py)
        admin = await make_user(session, Role.ADMIN)
        h = _bearer(await login(client, admin.username))
        assert (await client.get("/api/v1/admin/users", headers=h)).status_code == 200
