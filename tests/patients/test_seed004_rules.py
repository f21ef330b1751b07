"""Seed 004 section 12 rules on ``POST /patients`` with the seed's own field names
(first_name/last_name, no national ID): each broken rule is a 422 problem+json naming the
field and the rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from hms.core.permissions import Role
from tests.identity.factories import auth_headers

URL = "/api/v1/patients"
PROBLEM = "application/problem+json"


def seed_004_patient(**overrides):
    body = {"first_name": "Mona", "last_name": "Hassan", "date_of_birth": "1990-01-01",
            "gender": "FEMALE", "phone": "+20 2 2345 6789", "email": "mona@example.org",
            "passport_number": "A12345678"}
    body.update(overrides)
    return body


def field_rules(resp) -> dict[str, str]:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["code"] == "validation_error" and body["status"] == 422
    return {e["field"]: e["type"] for e in body["errors"]}


@pytest.fixture
async def desk(client, session):
    return await auth_headers(client, session, Role.RECEPTIONIST)


async def test_valid_seed_004_registration_is_accepted(client, desk):
    resp = await client.post(URL, headers=desk, json=seed_004_patient())
    assert resp.status_code == 201, resp.text


async def test_date_of_birth_in_the_future_is_refused(client, desk):
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    resp = await client.post(URL, headers=desk, json=seed_004_patient(date_of_birth=tomorrow))
    assert field_rules(resp) == {"date_of_birth": "date_of_birth_future"}


@pytest.mark.parametrize("phone", ["call me maybe", "12", "+20 2 2345 6789 ext. 5"])
async def test_phone_format_is_enforced(client, desk, phone):
    resp = await client.post(URL, headers=desk, json=seed_004_patient(phone=phone))
    assert field_rules(resp) == {"phone": "phone_format"}


async def test_emergency_contact_phone_format_is_enforced(client, desk):
    resp = await client.post(URL, headers=desk,
                             json=seed_004_patient(emergency_contact_phone="ring ring"))
    assert field_rules(resp) == {"emergency_contact_phone": "phone_format"}


@pytest.mark.parametrize("email", ["not-an-email", "mona@", "@example.org"])
async def test_email_format_is_enforced(client, desk, email):
    resp = await client.post(URL, headers=desk, json=seed_004_patient(email=email))
    assert list(field_rules(resp)) == ["email"]
