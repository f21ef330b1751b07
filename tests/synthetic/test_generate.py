"""``hms generate``: the synthetic population lands through COPY (PostgreSQL) or
executemany (SQLite) and is found, read and extended through the ordinary HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.core.permissions import Role
from hms.patients.validators import GENERATED_PATIENT_NUMBER_RE, check_national_id, today_utc
from hms.synthetic.generator import HISTORY_DAYS, PopulationGenerator
from hms.synthetic.service import GenerationReport, generate_population
from tests.identity.factories import auth_headers
from tests.patients.factories import seed_payload

URL = "/api/v1/patients"
PATIENTS, VISITS, SEED = 200, 2, 7
# The history ends the day before ``today``: end it so that the last patient registers
# today, and the API's next number today must come after the generated ones.
HISTORY_END = today_utc() + timedelta(days=HISTORY_DAYS - (PATIENTS - 1) * HISTORY_DAYS // PATIENTS)


def _population() -> list[dict[str, Any]]:
    """The plaintext patients of the run (same seed, same people)."""
    generator = PopulationGenerator(patients=PATIENTS, visits_per_patient=VISITS, seed=SEED,
                                    today=HISTORY_END)
    first = dict.fromkeys(generator.registration_counts(), 1)
    return [p for batch in generator.batches(first, 1000) for p in batch.patients]


@pytest.fixture
async def generated(session: AsyncSession) -> GenerationReport:
    @asynccontextmanager
    async def scope() -> AsyncIterator[AsyncSession]:
        yield session
        await session.flush()

    return await generate_population(scope, patients=PATIENTS, visits_per_patient=VISITS,
                                     seed=SEED, batch_size=64, today=HISTORY_END)


@pytest.fixture
async def nurse(client, session) -> dict[str, str]:
    return await auth_headers(client, session, Role.NURSE)


class TestGeneratePopulation:
    async def test_writes_every_table_and_one_audit_event(self, generated, session):
        assert generated.rows["patients"] == PATIENTS
        assert generated.rows["visits"] == PATIENTS * VISITS
        assert 0.7 * PATIENTS * VISITS < generated.rows["nursing_assessments"] \
            == generated.rows["vital_signs"] < PATIENTS * VISITS
        events = await audit.list_events(session, entity_type="synthetic_population")
        assert [e.action for e in events] == ["import"]

    async def test_national_ids_are_valid_unique_and_match_birth_date_and_gender(self):
        people = _population()
        assert len({p["national_id"] for p in people}) == PATIENTS
        assert len({p["mobile"] for p in people}) == PATIENTS
        for p in people:
            check_national_id(p["national_id"], date_of_birth=p["date_of_birth"],
                              gender=p["gender"], today=HISTORY_END)
            assert p["mobile"][:3] in ("010", "011", "012", "015") and len(p["mobile"]) == 11

    async def test_same_seed_same_people(self):
        assert [(p["full_name"], p["national_id"]) for p in _population()] == \
            [(p["full_name"], p["national_id"]) for p in _population()]


class TestGeneratedPatientsThroughTheApi:
    async def test_found_by_national_id_mobile_number_and_name(self, generated, client, nurse):
        for person in _population()[::67]:
            resp = await client.get(f"{URL}/search", headers=nurse,
                                    params={"ssn": person["national_id"]})
            assert resp.status_code == 200, resp.text
            [found] = resp.json()["items"]
            number = found["patient_number"]
            assert GENERATED_PATIENT_NUMBER_RE.match(number)
            for params in ({"mobile": person["mobile"]}, {"medical_number": number},
                           {"name": person["full_name"], "page_size": 100}):
                resp = await client.get(f"{URL}/search", headers=nurse, params=params)
                assert resp.status_code == 200, resp.text
                assert found["id"] in [p["id"] for p in resp.json()["items"]], params

    async def test_read_decrypts_identifiers(self, generated, client, nurse):
        person = _population()[5]
        resp = await client.get(f"{URL}/{person['national_id']}/identifiers", headers=nurse)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert person["national_id"] in body.values()
        assert person["mobile"] in body.values()

    async def test_visit_list_shows_the_visits(self, generated, client, nurse):
        person = _population()[11]
        resp = await client.get("/api/v1/visits", headers=nurse,
                                params={"patient": person["national_id"]})
        assert resp.status_code == 200, resp.text
        assert resp.json()["total"] == VISITS

    async def test_next_registration_gets_a_fresh_patient_number(self, generated, client,
                                                                 nurse):
        today = f"PT-{today_utc():%Y%m%d}-"
        resp = await client.get(f"{URL}/search", headers=nurse,
                                params={"q": today, "page_size": 100})
        taken = {p["patient_number"] for p in resp.json()["items"]}
        assert taken  # the run registered patients today
        resp = await client.post(URL, headers=nurse, json=seed_payload())
        assert resp.status_code == 201, resp.text
        number = resp.json()["patient_number"]
        assert number.startswith(today) and number not in taken
        assert int(number.rsplit("-", 1)[1]) == len(taken) + 1
