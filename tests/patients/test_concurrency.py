"""Races with real commits: numbering, duplicate national IDs and stale updates."""

from __future__ import annotations

import asyncio

import pytest

from hms.core.permissions import Role
from tests.identity.factories import login, make_user
from tests.patients.factories import seed_payload

URL = "/api/v1/patients"

pytestmark = pytest.mark.committed


async def _nurse_headers(committed_client, db) -> dict[str, str]:
    async with db.sessionmaker() as s:
        user = await make_user(s, Role.NURSE)
    tokens = await login(committed_client, user.username)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


class TestConcurrentRegistration:
    async def test_twenty_concurrent_registrations_get_distinct_numbers(
        self, committed_client, db
    ):
        headers = await _nurse_headers(committed_client, db)
        responses = await asyncio.gather(*[
            committed_client.post(URL, json=seed_payload(), headers=headers)
            for _ in range(20)
        ])
        assert [r.status_code for r in responses] == [201] * 20
        numbers = {r.json()["patient_number"] for r in responses}
        assert len(numbers) == 20

    async def test_concurrent_same_national_id_registers_once(self, committed_client, db):
        headers = await _nurse_headers(committed_client, db)
        body = seed_payload()
        responses = await asyncio.gather(*[
            committed_client.post(URL, json={**body, "full_name": f"Twin Number{i}"},
                                  headers=headers)
            for i in range(6)
        ])
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] + [409] * 5
        winner = next(r.json() for r in responses if r.status_code == 201)
        for r in responses:
            if r.status_code == 409:
                assert r.json()["existing_patient"]["id"] == winner["id"]


class TestConcurrentUpdate:
    async def test_two_writers_with_the_same_version_one_gets_412(self, committed_client, db):
        headers = await _nurse_headers(committed_client, db)
        created = (await committed_client.post(URL, json=seed_payload(),
                                               headers=headers)).json()
        responses = await asyncio.gather(*[
            committed_client.put(f"{URL}/{created['id']}", json={"city": city},
                                 headers={**headers, "If-Match": 'W/"1"'})
            for city in ("Minya", "Sohag")
        ])
        assert sorted(r.status_code for r in responses) == [200, 412]
        final = (await committed_client.get(f"{URL}/{created['id']}", headers=headers)).json()
        assert final["version"] == 2
        winner = next(r.json() for r in responses if r.status_code == 200)
        assert final["city"] == winner["city"]
