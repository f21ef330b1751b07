"""Identifiers are masked for roles without ``patient:read_identifiers``; full values are
audited, and have their own audited route."""

from __future__ import annotations

import pytest

from hms.audit import service as audit
from hms.core.permissions import ROLE_PERMISSIONS, Perm, Role
from hms.patients import service
from hms.patients.schemas import IdentifierAccess, PatientUpdate
from tests.identity.factories import auth_headers
from tests.patients.factories import make_patient, national_id
from tests.visits.factories import make_visit

URL = "/api/v1/patients"
CONTACT = {"phone": "02 2345 6789", "email": "mona@example.org",
           "address_line": "12 Tahrir Street", "passport_number": "A12345678",
           "other_identifier": "MOI-99887", "emergency_contact_phone": "01211112222"}


@pytest.fixture
async def physician(client, session) -> dict[str, str]:
    return await auth_headers(client, session, Role.PHYSICIAN)


@pytest.fixture
async def nurse(client, session) -> dict[str, str]:
    return await auth_headers(client, session, Role.NURSE)


def _assert_masked(got: dict, patient) -> None:
    assert got["identifiers"] == "masked"
    assert got["national_id"] == "*" * 10 + patient.national_id[-4:]
    assert got["mobile"] == "*" * 8 + patient.mobile[-3:]
    assert got["phone"] == "*******789"
    assert got["email"] == "m***@example.org"
    assert got["address_line"] == "***"
    assert got["passport_number"] == "******678"
    assert got["other_identifier"] == "******887"
    assert got["emergency_contact_phone"] == "********222"


class TestPolicy:
    def test_who_holds_the_permission(self):
        holders = {r for r, perms in ROLE_PERMISSIONS.items()
                   if Perm.PATIENT_READ_IDENTIFIERS in perms}
        # Seed 004 (HCMS 11): the receptionist registers patients and checks their papers.
        assert holders == {Role.SUPER_ADMIN, Role.ADMIN, Role.NURSE, Role.RECEPTIONIST}


class TestMaskedForPhysicians:
    async def test_physician_reads_masked_identifiers(self, client, physician, session):
        patient = await make_patient(session, **CONTACT)
        resp = await client.get(f"{URL}/{patient.id}", headers=physician)
        assert resp.status_code == 200
        got = resp.json()
        _assert_masked(got, patient)
        for value in (patient.national_id, patient.mobile, "mona@", "Tahrir", "A12345678"):
            assert value not in resp.text
        assert got["full_name"] == patient.full_name  # the record itself is there

    async def test_physician_search_results_are_masked(self, client, physician, session):
        patient = await make_patient(session, **CONTACT)
        resp = await client.get(f"{URL}/search", params={"ssn": patient.national_id},
                                headers=physician)
        [got] = resp.json()["items"]
        _assert_masked(got, patient)
        assert patient.national_id not in resp.text

    async def test_physician_history_masks_the_national_id(self, client, physician, session):
        patient = await make_patient(session)
        await make_visit(session, patient.id)
        resp = await client.get(f"{URL}/{patient.patient_number}/history", headers=physician)
        assert resp.status_code == 200
        assert resp.json()["patient"]["national_id"] == "*" * 10 + patient.national_id[-4:]
        assert patient.national_id not in resp.text
        [event] = await audit.list_events(session, entity_type="patient_history",
                                          patient_id=patient.id)
        assert event.changes["identifiers"] == "masked"

    async def test_physician_cannot_open_the_identifiers_route(self, client, physician,
                                                               session):
        patient = await make_patient(session)
        resp = await client.get(f"{URL}/{patient.id}/identifiers", headers=physician)
        assert resp.status_code == 403
        assert patient.national_id not in resp.text
        assert await audit.count_events(session, action="read_identifiers",
                                        patient_id=patient.id) == 0

    async def test_read_is_audited_as_masked(self, client, physician, session):
        patient = await make_patient(session)
        await client.get(f"{URL}/{patient.id}", headers=physician)
        [event] = await audit.list_events(session, action="read", patient_id=patient.id)
        assert event.changes == {"identifiers": "masked"}


class TestFullForNursesAndAdmins:
    @pytest.mark.parametrize("role", [Role.NURSE, Role.ADMIN, Role.SUPER_ADMIN])
    async def test_reads_full_identifiers(self, client, session, role):
        headers = await auth_headers(client, session, role)
        patient = await make_patient(session, **CONTACT)
        got = (await client.get(f"{URL}/{patient.id}", headers=headers)).json()
        assert got["identifiers"] == "full"
        assert got["national_id"] == patient.national_id
        assert got["mobile"] == patient.mobile
        assert {k: got[k] for k in CONTACT} == CONTACT
        [event] = await audit.list_events(session, action="read", patient_id=patient.id)
        assert event.changes == {"identifiers": "full"}

    async def test_search_read_events_record_full(self, client, nurse, session):
        patient = await make_patient(session)
        await client.get(f"{URL}/search", params={"mobile": patient.mobile}, headers=nurse)
        [event] = await audit.list_events(session, action="read", patient_id=patient.id)
        assert event.changes == {"via": "search", "identifiers": "full"}

    async def test_nurse_registering_sees_what_she_typed(self, client, nurse):
        nid = national_id()
        resp = await client.post(URL, headers=nurse, json={
            "ssn": nid, "full_name": "Typed Value", "gender": "male"})
        assert resp.json()["national_id"] == nid


class TestIdentifiersRoute:
    async def test_returns_full_values_and_is_audited(self, client, nurse, session):
        patient = await make_patient(session, **CONTACT)
        resp = await client.get(f"{URL}/{patient.national_id}/identifiers", headers=nurse)
        assert resp.status_code == 200
        got = resp.json()
        assert got["id"] == str(patient.id)
        assert got["national_id"] == patient.national_id
        assert got["mobile"] == patient.mobile
        assert {k: got[k] for k in CONTACT} == CONTACT
        assert "full_name" not in got  # identifiers only
        assert resp.headers["cache-control"] == "no-store"
        [event] = await audit.list_events(session, action="read_identifiers",
                                          patient_id=patient.id)
        assert event.entity_type == "patient" and event.username is not None
        assert event.changes == {"identifiers": "full"}
        assert patient.national_id not in str(event.changes)

    async def test_unknown_patient_is_404(self, client, nurse):
        resp = await client.get(f"{URL}/PT-19990101-0001/identifiers", headers=nurse)
        assert resp.status_code == 404

    async def test_needs_a_token(self, client, session):
        patient = await make_patient(session)
        assert (await client.get(f"{URL}/{patient.id}/identifiers")).status_code == 401


class TestMaskedValuesSentBack:
    async def test_echoed_masked_values_do_not_overwrite(self, session):
        patient = await make_patient(session, **CONTACT)
        masked = await service.get_patient(session, patient.id, access=IdentifierAccess.MASKED)
        echoed = PatientUpdate.model_validate({
            "email": masked.email, "address_line": masked.address_line,
            "passport_number": masked.passport_number,
            "other_identifier": masked.other_identifier, "city": "Aswan", "version": 1})
        updated = await service.update_patient(session, patient.id, echoed, if_match=None,
                                               access=IdentifierAccess.MASKED)
        assert updated.city == "Aswan" and updated.version == 2
        full = await service.get_identifiers(session, patient.id)
        assert {k: getattr(full, k) for k in ("email", "address_line", "passport_number",
                                              "other_identifier")} == {
            k: CONTACT[k] for k in ("email", "address_line", "passport_number",
                                    "other_identifier")}
