"""The patients service as other modules (visits, the FHIR importer) use it."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete

from hms.audit import service as audit
from hms.core.errors import NotFound
from hms.patients import service
from hms.patients.errors import DuplicatePatient
from hms.patients.models import PatientNumberCounter
from hms.patients.schemas import PatientCreate
from hms.patients.validators import today_utc
from tests.patients.factories import make_patient, national_id


class TestGeneratePatientNumber:
    async def test_numbers_follow_each_other_within_a_day(self, session):
        first = await service.generate_patient_number(session, date(2001, 1, 1))
        second = await service.generate_patient_number(session, date(2001, 1, 1))
        assert first == "PT-20010101-0001"
        assert second == "PT-20010101-0002"

    async def test_on_postgres_a_request_does_not_hold_the_day_counter(self, db):
        """Two registrations in flight at once: the second draws its number without waiting
        for the first to end (the counter commits on its own); the first's number is not
        given back when it rolls back."""
        if db.is_sqlite:
            pytest.skip("SQLite serialises writers; the counter stays in the transaction")
        day = date(1901, 2, 3)
        try:
            async with db.sessionmaker() as first, db.sessionmaker() as second:
                a = await service.generate_patient_number(first, day)
                b = await asyncio.wait_for(service.generate_patient_number(second, day), 5)
                await first.rollback()
                await second.rollback()
            async with db.sessionmaker() as third:
                c = await service.generate_patient_number(third, day)
            assert [int(n.rsplit("-", 1)[1]) for n in (a, b, c)] == [1, 2, 3]
        finally:
            async with db.sessionmaker() as cleanup:
                await cleanup.execute(delete(PatientNumberCounter).where(
                    PatientNumberCounter.day == "19010203"))
                await cleanup.commit()

    async def test_each_day_has_its_own_sequence(self, session):
        await service.generate_patient_number(session, date(2001, 1, 2))
        assert await service.generate_patient_number(session, date(2001, 1, 3)) == (
            "PT-20010103-0001")

    async def test_sequence_grows_to_five_digits(self, session):
        session.add(PatientNumberCounter(day="20010104", last_value=9999))
        await session.flush()
        assert await service.generate_patient_number(session, date(2001, 1, 4)) == (
            "PT-20010104-10000")

    async def test_client_chosen_number_is_skipped_by_the_generator(self, session):
        day = today_utc()
        drawn = await service.generate_patient_number(session, day)
        n = int(drawn.rsplit("-", 1)[1])
        taken = [f"PT-{day:%Y%m%d}-{n + i:04d}" for i in (1, 2)]
        for number in taken:
            await make_patient(session, patient_number=number)
        generated = await make_patient(session)
        assert generated.patient_number == f"PT-{day:%Y%m%d}-{n + 3:04d}"


class TestCreateForImporters:
    async def test_imported_record_needs_no_national_id(self, session):
        data = PatientCreate(full_name="Imported Person", gender="female")
        patient = await service.create_patient(session, data, created_by=None,
                                               source_system="urn:synthea", source_id="p-1",
                                               audit=False)
        assert patient.national_id is None
        assert patient.source_id == "p-1"
        found = await service.find_by_source(session, "urn:synthea", "p-1")
        assert found is not None and found.id == patient.id
        assert await service.find_by_source(session, "urn:synthea", "p-2") is None

    async def test_deceased_import_keeps_time_of_death(self, session):
        died = datetime(2019, 7, 8, 13, 10, 11, tzinfo=UTC)
        patient = await service.create_patient(
            session, PatientCreate(full_name="Late Person"), created_by=None,
            source_system="urn:synthea", source_id="p-dead", deceased_at=died)
        assert (await service.get_summary(session, patient.id)).deceased_at == died

    async def test_same_source_record_twice_is_duplicate(self, session):
        data = PatientCreate(full_name="Imported Twice")
        await service.create_patient(session, data, created_by=None,
                                     source_system="urn:synthea", source_id="p-9")
        with pytest.raises(DuplicatePatient) as err:
            await service.create_patient(session, data, created_by=None,
                                         source_system="urn:synthea", source_id="p-9")
        assert err.value.status_code == 409

    async def test_audit_flag_controls_the_create_event(self, session):
        quiet = await make_patient(session)
        loud = await service.create_patient(
            session, PatientCreate(full_name="Loud Person", national_id=national_id()),
            created_by=None)
        assert await audit.count_events(session, action="create", patient_id=quiet.id) == 0
        assert await audit.count_events(session, action="create", patient_id=loud.id) == 1


class TestResolve:
    async def test_resolves_every_reference_form(self, session):
        patient = await make_patient(session)
        for ref in (patient.id, str(patient.id), patient.patient_number,
                    patient.patient_number.lower(), patient.national_id):
            assert (await service.resolve(session, ref)).id == patient.id
        assert (await service.get_summary(session, patient.id)).patient_number == (
            patient.patient_number)

    async def test_unknown_reference_is_not_found(self, session):
        with pytest.raises(NotFound) as err:
            await service.resolve(session, "29001010100015")
        assert err.value.status_code == 404
