"""The password policy (NIST SP 800-63B 5.1.1.2, seed 003 NFR-SEC-001) on every way a
password is set: admin create, admin reset, `hms create-user`, change-password."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hms.cli import app as cli_app
from hms.core.permissions import Role
from hms.identity import password_policy
from tests.identity.factories import login, make_user


def _bearer(pair: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def _rules(resp) -> list[str]:
    return [e["type"] for e in resp.json()["errors"]]


class TestRules:
    def test_each_rule_alone(self):
        cases = {
            "Aa1!aaaa": ["too_short"],  # 8 characters, 4 classes
            "alllowercaseletters": ["too_few_classes"],  # 19 characters, 1 class
            "Xnurse.amira-2024": ["contains_username"],
            "Q1w2e3r4t5y6": ["too_common"],  # 12 characters, 3 classes, in the breach list
        }
        for password, expected in cases.items():
            got = [v.rule for v in password_policy.check(password, username="Nurse.Amira")]
            assert got == expected, password

    def test_username_match_is_case_insensitive_and_equal_counts(self):
        rules = [v.rule for v in password_policy.check("DR.KARIM-LONG-9x",
                                                       username="dr.karim")]
        assert rules == ["contains_username"]
        assert "contains_username" in [
            v.rule for v in password_policy.check("Dr.Karim.Stone9", username="dr.karim.stone9")]

    def test_common_list_is_the_bundled_one_and_case_insensitive(self):
        common = password_policy.common_passwords()
        assert len(common) > 19_000 and "password" in common
        assert [v.rule for v in password_policy.check("PASSWORD", username="x")] == [
            "too_short", "too_few_classes", "too_common"]

    def test_three_of_four_classes_suffice(self):
        assert password_policy.check("lower-and-digits-42", username="someone") == []
        assert password_policy.check("Correct-Horse-42!", username="nurse1") == []

    def test_generated_passwords_always_comply(self):
        for _ in range(200):
            candidate = password_policy.generate()
            assert password_policy.check(candidate) == []
            assert len(candidate) >= 16

    def test_settings_change_the_rules(self, monkeypatch, live_settings):
        monkeypatch.setattr(live_settings, "password_min_length", 20)
        monkeypatch.setattr(live_settings, "password_min_classes", 4)
        rules = [v.rule for v in password_policy.check("correct-horse-42", username="x")]
        assert rules == ["too_short", "too_few_classes"]


class TestWherePasswordsAreSet:
    async def test_admin_create_names_every_broken_rule(self, client, session):
        admin = await make_user(session, Role.ADMIN)
        h = _bearer(await login(client, admin.username))
        resp = await client.post("/api/v1/admin/users", headers=h, json={
            "username": "weak.nurse", "password": "weak.nurse", "role": "nurse"})
        assert resp.status_code == 422
        assert {e["field"] for e in resp.json()["errors"]} == {"password"}
        assert _rules(resp) == ["password_too_short", "password_too_few_classes",
                                "password_contains_username"]
        assert "at least 12 characters" in resp.json()["detail"]
        listed = await client.get("/api/v1/admin/users", headers=h,
                                  params={"role": "nurse"})
        assert listed.json()["total"] == 0

    async def test_admin_reset_is_checked(self, client, session):
        admin = await make_user(session, Role.ADMIN)
        nurse = await make_user(session, Role.NURSE)
        h = _bearer(await login(client, admin.username))
        resp = await client.put(f"/api/v1/admin/users/{nurse.id}", headers=h,
                                json={"password": "Q1w2e3r4t5y6"})
        assert resp.status_code == 422
        assert _rules(resp) == ["password_too_common"]
        # Nothing changed: the old password still works and no change is forced.
        assert (await login(client, nurse.username))["session_restriction"] is None

    async def test_change_password_checks_new_password(self, client, session):
        nurse = await make_user(session, Role.NURSE)
        h = _bearer(await login(client, nurse.username))
        resp = await client.post("/api/v1/auth/change-password", headers=h, json={
            "current_password": "Correct-Horse-42!", "new_password": "short1A"})
        assert resp.status_code == 422
        assert {e["field"] for e in resp.json()["errors"]} == {"new_password"}
        assert _rules(resp) == ["password_too_short"]

    @pytest.mark.usefixtures("settings")
    def test_cli_create_user_refuses_weak_password(self):
        result = CliRunner().invoke(cli_app, [
            "create-user", "--username", "cli.weak", "--password", "password123",
            "--role", "nurse"])
        assert result.exit_code == 1
        assert "at least 12 characters" in result.output
        assert "commonly used password" in result.output
