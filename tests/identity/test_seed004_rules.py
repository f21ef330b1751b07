"""Seed 004 section 12 (email, phone, password) on ``POST /users``: each broken rule is a
422 problem+json naming the field and the rule; passwords are stored as Argon2id hashes."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from hms.core.permissions import Role
from hms.identity.models import User
from tests.identity.factories import PASSWORD, auth_headers

URL = "/api/v1/users"
PROBLEM = "application/problem+json"


def seed_user(**overrides):
    body = {"email": "Sam.Lee@Clinic.example", "password": PASSWORD, "first_name": "Sam",
            "last_name": "Lee", "role": "NURSE", "phone": "+20 100 555 0101"}
    body.update(overrides)
    return body


def field_rules(resp) -> list[tuple[str, str]]:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["code"] == "validation_error" and body["status"] == 422
    return [(e["field"], e["type"]) for e in body["errors"]]


@pytest.fixture
async def admin(client, session):
    return await auth_headers(client, session, Role.ADMIN)


@pytest.mark.parametrize("email", ["not-an-email", "sam@", "sam lee@clinic.example"])
async def test_email_format_is_enforced(client, admin, email):
    resp = await client.post(URL, headers=admin, json=seed_user(email=email))
    assert [f for f, _ in field_rules(resp)] == ["email"]


@pytest.mark.parametrize("phone", ["call me maybe", "12", "+20#100"])
async def test_phone_format_is_enforced(client, admin, phone):
    resp = await client.post(URL, headers=admin, json=seed_user(phone=phone))
    assert [f for f, _ in field_rules(resp)] == ["phone"]


@pytest.mark.parametrize(("password", "rules"), [
    ("Aa1!aaaa", ["password_too_short"]),               # seed's 8 characters: ours is 12
    ("onlylowercaseletters", ["password_too_few_classes"]),  # one character class
    ("12345678901234567890", ["password_too_few_classes"]),  # digits only, no letters
])
async def test_password_complexity_is_enforced(client, admin, password, rules):
    resp = await client.post(URL, headers=admin, json=seed_user(password=password))
    got = field_rules(resp)
    assert {f for f, _ in got} == {"password"}
    assert [t for _, t in got if t in rules] == rules


async def test_password_is_stored_as_an_argon2id_hash(client, session, admin):
    resp = await client.post(URL, headers=admin, json=seed_user())
    assert resp.status_code == 201, resp.text
    assert "password_hash" not in resp.json()
    stored = await session.scalar(select(User.password_hash).where(
        User.id == uuid.UUID(resp.json()["id"])))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
