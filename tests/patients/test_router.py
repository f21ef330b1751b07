"""Patients over HTTP: registration, validation, duplicates, lookup, update and search."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

import pytest

from hms.audit import service as audit
from hms.core.permissions import Role
from tests.identity.factories import auth_headers
from tests.patients.factories import make_patient, mobile, national_id, seed_payload

URL = "/api/v1/patients"


def _today() -> str:
    return f"{datetime.now(UTC):%Y%m%d}"


def _field_errors(resp) -> dict[str, str]:
    return {e["field"]: e["type"] for e in resp.json()["errors"]}


@pytest.fixture
async def nurse(client, session) -> dict[str, str]:
    return await auth_headers(client, session, Role.NURSE)


@pytest.fixture
async def physician(client, session) -> dict[str, str]:
    return await auth_headers(client, session, Role.PHYSICIAN)


class TestRegisterPatient:
    async def test_nurse_registers_with_seed_field_names(self, client, nurse):
        body = seed_payload(ssn="29001010100015", full_name="Ahmed Mohamed Ali Hassan",
                            phone_number="02 2345 6789")
        resp = await client.post(URL, json=body, headers=nurse)
        assert resp.status_code == 201, resp.text
        got = resp.json()
        assert got["national_id"] == "29001010100015"
        assert got["mobile"] == body["mobile_number"]
        assert got["phone"] == "02 2345 6789"
        assert got["given_name"] == "Ahmed"
        assert got["family_name"] == "Mohamed Ali Hassan"
        assert got["full_name"] == "Ahmed Mohamed Ali Hassan"
        assert got["date_of_birth"] == "1990-01-01"  # taken from the national ID
        assert got["version"] == 1
        assert "ssn" not in got and "mobile_number" not in got
        assert re.fullmatch(rf"PT-{_today()}-\d{{4,}}", got["patient_number"])
        assert resp.headers["location"] == f"{URL}/{got['id']}"
        assert resp.headers["etag"] == 'W/"1"'

    async def test_registers_with_canonical_names_and_given_family(self, client, nurse):
        nid = national_id(date(2003, 2, 28), governorate="21", gender="female")
        resp = await client.post(URL, headers=nurse, json={
            "national_id": nid, "given_name": "Mona", "family_name": "Said",
            "date_of_birth": "2003-02-28", "gender": "female", "mobile": "01112345678",
            "email": "mona@example.org", "blood_type": "AB-", "marital_status": "single",
            "city": "Giza", "emergency_contact_name": "Sara Said",
            "emergency_contact_phone": "01212345678", "emergency_contact_relation": "sister",
        })
        assert resp.status_code == 201, resp.text
        got = resp.json()
        assert got["full_name"] == "Mona Said"
        assert got["blood_type"] == "AB-"
        assert got["gender"] == "female"

    async def test_given_medical_number_is_kept(self, client, nurse):
        resp = await client.post(URL, json=seed_payload(medical_number="legacy-001"),
                                 headers=nurse)
        assert resp.status_code == 201
        assert resp.json()["patient_number"] == "LEGACY-001"

    async def test_duplicate_medical_number_is_409(self, client, nurse, session):
        existing = await make_patient(session, patient_number="MRN-77")
        resp = await client.post(URL, json=seed_payload(medical_number="mrn-77"), headers=nurse)
        assert resp.status_code == 409
        assert resp.json()["existing_patient"] == {
            "id": str(existing.id), "patient_number": "MRN-77"}

    async def test_registration_is_audited(self, client, nurse, session):
        resp = await client.post(URL, json=seed_payload(), headers=nurse)
        pid = uuid.UUID(resp.json()["id"])
        events = await audit.list_events(session, entity_type="patient", action="create",
                                         patient_id=pid)
        assert len(events) == 1
        assert events[0].username is not None
        assert events[0].changes["after"]["patient_number"] == resp.json()["patient_number"]

    async def test_physician_cannot_register(self, client, physician):
        resp = await client.post(URL, json=seed_payload(), headers=physician)
        assert resp.status_code == 403
        assert resp.headers["content-type"].startswith("application/problem+json")

    async def test_admin_can_register(self, client, session):
        headers = await auth_headers(client, session, Role.ADMIN)
        assert (await client.post(URL, json=seed_payload(), headers=headers)).status_code == 201

    async def test_no_token_is_401(self, client):
        assert (await client.post(URL, json=seed_payload())).status_code == 401

    async def test_missing_name_names_full_name(self, client, nurse):
        body = seed_payload()
        del body["full_name"]
        resp = await client.post(URL, json=body, headers=nurse)
        assert resp.status_code == 422
        assert "full_name" in _field_errors(resp)

    async def test_alias_and_canonical_disagreeing_is_422(self, client, nurse):
        body = seed_payload(national_id=national_id())
        resp = await client.post(URL, json=body, headers=nurse)
        assert resp.status_code == 422
        assert _field_errors(resp) == {"national_id": "alias_conflict"}


class TestNationalIdRules:
    """Each broken rule gives 422 with an error for ``national_id`` naming the reason."""

    @pytest.mark.parametrize(
        ("nid", "extra", "reason"),
        [
            ("2900101010001", {}, "national_id_format"),
            ("290010101000155", {}, "national_id_format"),
            ("2900101010001X", {}, "national_id_format"),
            ("19001010100015", {}, "national_id_century"),
            ("49001010100015", {}, "national_id_century"),
            ("29002300100015", {}, "national_id_birth_date"),
            ("29013010100015", {}, "national_id_birth_date"),
            ("39912310100015", {}, "national_id_future_birth_date"),
            ("29001010100015", {"date_of_birth": "1990-01-02"}, "national_id_dob_mismatch"),
            ("29001010500015", {}, "national_id_governorate"),
            ("29001019900015", {}, "national_id_governorate"),
            ("29001010100015", {"gender": "female"}, "national_id_gender_mismatch"),
            ("29001010100025", {"gender": "male"}, "national_id_gender_mismatch"),
        ],
    )
    async def test_broken_rule_is_422_on_national_id(self, client, nurse, nid, extra, reason):
        body = seed_payload(ssn=nid, **{"gender": None, **extra})
        resp = await client.post(URL, json=body, headers=nurse)
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert _field_errors(resp) == {"national_id": reason}
        assert nid not in resp.text  # the rejected value is not echoed back

    async def test_matching_dob_and_gender_are_accepted(self, client, nurse):
        body = seed_payload(ssn="29001010100025", date_of_birth="1990-01-01", gender="female")
        assert (await client.post(URL, json=body, headers=nurse)).status_code == 201

    async def test_other_gender_is_not_checked_against_parity(self, client, nurse):
        body = seed_payload(ssn=national_id(gender="female"), gender="other")
        assert (await client.post(URL, json=body, headers=nurse)).status_code == 201

    async def test_national_id_required_without_passport(self, client, nurse):
        body = seed_payload()
        del body["ssn"]
        resp = await client.post(URL, json=body, headers=nurse)
        assert resp.status_code == 422
        assert _field_errors(resp) == {"national_id": "missing"}

    async def test_passport_replaces_national_id(self, client, nurse):
        body = seed_payload(passport_number="A12345678")
        del body["ssn"]
        resp = await client.post(URL, json=body, headers=nurse)
        assert resp.status_code == 201
        assert resp.json()["national_id"] is None

    async def test_duplicate_national_id_is_409_naming_existing_patient(
        self, client, nurse, session
    ):
        existing = await make_patient(session)
        resp = await client.post(URL, json=seed_payload(ssn=existing.national_id),
                                 headers=nurse)
        assert resp.status_code == 409
        problem = resp.json()
        assert problem["code"] == "duplicate_patient"
        assert problem["existing_patient"] == {
            "id": str(existing.id), "patient_number": existing.patient_number}
        assert existing.national_id not in problem["detail"]


class TestMobileRules:
    @pytest.mark.parametrize("prefix", ["010", "011", "012", "015"])
    async def test_operator_prefixes_accepted(self, client, nurse, prefix):
        number = mobile(prefix)
        resp = await client.post(URL, json=seed_payload(mobile_number=number), headers=nurse)
        assert resp.status_code == 201
        assert resp.json()["mobile"] == number

    @pytest.mark.parametrize("number", ["01312345678", "0101234567", "010123456789",
                                        "11012345678", "01O12345678"])
    async def test_bad_mobile_is_422_on_mobile(self, client, nurse, number):
        resp = await client.post(URL, json=seed_payload(mobile_number=number), headers=nurse)
        assert resp.status_code == 422
        assert _field_errors(resp) == {"mobile": "mobile_format"}

    async def test_international_form_is_stored_as_11_digits(self, client, nurse):
        resp = await client.post(URL, json=seed_payload(mobile_number="+20 155 123 4567"),
                                 headers=nurse)
        assert resp.status_code == 201
        assert resp.json()["mobile"] == "01551234567"


class TestReadPatient:
    @pytest.mark.parametrize("key", ["id", "patient_number", "national_id", "lower_number"])
    async def test_get_by_any_reference(self, client, nurse, session, key):
        patient = await make_patient(session)
        ref = (patient.patient_number.lower() if key == "lower_number"
               else str(getattr(patient, key)))
        resp = await client.get(f"{URL}/{ref}", headers=nurse)
        assert resp.status_code == 200
        assert resp.json()["id"] == str(patient.id)
        assert resp.headers["etag"] == 'W/"1"'

    async def test_unknown_reference_is_404(self, client, nurse):
        resp = await client.get(f"{URL}/PT-19990101-0001", headers=nurse)
        assert resp.status_code == 404
        assert resp.json()["code"] == "patient_not_found"

    async def test_read_is_audited(self, client, physician, session):
        patient = await make_patient(session)
        await client.get(f"{URL}/{patient.national_id}", headers=physician)
        assert await audit.count_events(session, action="read", entity_type="patient",
                                        patient_id=patient.id) == 1


class TestUpdatePatient:
    async def test_update_with_if_match_bumps_version(self, client, nurse, session):
        patient = await make_patient(session, city="Cairo")
        resp = await client.put(f"{URL}/{patient.patient_number}", headers={
            **nurse, "If-Match": 'W/"1"'}, json={"city": "Tanta", "phone_number": "040 123 4567"})
        assert resp.status_code == 200, resp.text
        got = resp.json()
        assert (got["city"], got["phone"], got["version"]) == ("Tanta", "040 123 4567", 2)
        assert resp.headers["etag"] == 'W/"2"'
        assert got["full_name"] == patient.full_name

    async def test_update_with_body_version(self, client, nurse, session):
        patient = await make_patient(session)
        resp = await client.put(f"{URL}/{patient.id}", headers=nurse,
                                json={"full_name": "Omar Khaled Farouk", "version": 1})
        assert resp.status_code == 200
        got = resp.json()
        assert (got["given_name"], got["family_name"]) == ("Omar", "Khaled Farouk")

    async def test_renamed_patient_is_found_by_new_name(self, client, nurse, session):
        patient = await make_patient(session)
        await client.put(f"{URL}/{patient.id}", headers=nurse,
                         json={"given_name": "Zeinab", "version": 1})
        found = await client.get(f"{URL}/search", params={"name": "zeinab"}, headers=nurse)
        assert [p["id"] for p in found.json()["items"]] == [str(patient.id)]

    async def test_stale_version_is_412(self, client, nurse, session):
        patient = await make_patient(session)
        first = await client.put(f"{URL}/{patient.id}", headers=nurse,
                                 json={"city": "Aswan", "version": 1})
        assert first.status_code == 200
        stale = await client.put(f"{URL}/{patient.id}", headers={**nurse, "If-Match": 'W/"1"'},
                                 json={"city": "Luxor"})
        assert stale.status_code == 412
        again = await client.get(f"{URL}/{patient.id}", headers=nurse)
        assert again.json()["city"] == "Aswan"

    async def test_missing_version_is_428(self, client, nurse, session):
        patient = await make_patient(session)
        resp = await client.put(f"{URL}/{patient.id}", headers=nurse, json={"city": "Qena"})
        assert resp.status_code == 428

    async def test_gender_change_against_national_id_is_422(self, client, nurse, session):
        patient = await make_patient(session, gender="male")
        resp = await client.put(f"{URL}/{patient.id}", headers=nurse,
                                json={"gender": "female", "version": 1})
        assert resp.status_code == 422
        assert _field_errors(resp) == {"national_id": "national_id_gender_mismatch"}

    async def test_taking_anothers_national_id_is_409(self, client, nurse, session):
        first = await make_patient(session)
        second = await make_patient(session)
        resp = await client.put(f"{URL}/{second.id}", headers=nurse,
                                json={"ssn": first.national_id, "version": 1})
        assert resp.status_code == 409
        assert resp.json()["existing_patient"]["id"] == str(first.id)

    async def test_update_is_audited_with_changed_fields(self, client, nurse, session):
        patient = await make_patient(session, occupation="teacher")
        await client.put(f"{URL}/{patient.id}", headers=nurse,
                         json={"occupation": "engineer", "version": 1})
        events = await audit.list_events(session, action="update", patient_id=patient.id)
        assert len(events) == 1
        assert events[0].changes == {"before": {"occupation": "teacher"},
                                     "after": {"occupation": "engineer"}}

    async def test_physician_cannot_update(self, client, physician, session):
        patient = await make_patient(session)
        resp = await client.put(f"{URL}/{patient.id}", headers=physician,
                                json={"city": "Suez", "version": 1})
        assert resp.status_code == 403


class TestSearchPatients:
    async def test_by_each_key(self, client, nurse, session):
        target = await make_patient(session, full_name="Karim Adel Nabil",
                                    patient_number="MRN-SEARCH-1")
        await make_patient(session, full_name="Someone Else")
        for params in ({"ssn": target.national_id}, {"mobile": target.mobile},
                       {"medical_number": "mrn-search-1"}, {"name": "adel nab"},
                       {"q": target.national_id}, {"q": target.mobile},
                       {"q": "Karim Adel"}, {"q": "mrn-search-1"}):
            resp = await client.get(f"{URL}/search", params=params, headers=nurse)
            assert resp.status_code == 200, params
            assert [p["id"] for p in resp.json()["items"]] == [str(target.id)], params

    async def test_exact_searches_and_reads_reuse_statements_with_their_own_values(
            self, client, nurse, session, monkeypatch):
        """One statement per criteria shape, built once: each later search and read of the
        same shape finds its own patient (never the first caller's), and nothing new is
        built for it."""
        from hms.patients import repository

        monkeypatch.setattr(repository, "_STATEMENTS", {})
        first = await make_patient(session, full_name="Rana Sabry")
        second = await make_patient(session, full_name="Tamer Sabry")
        for key in ("ssn", "mobile"):
            for target in (first, second, first):
                value = target.national_id if key == "ssn" else target.mobile
                resp = await client.get(f"{URL}/search", params={key: value}, headers=nurse)
                assert [p["id"] for p in resp.json()["items"]] == [str(target.id)], key
        built = dict(repository._STATEMENTS)
        assert len(built) == 2  # a national-ID shape and a mobile shape
        for target in (second, first):
            resp = await client.get(f"{URL}/search", headers=nurse,
                                    params={"medical_number": target.patient_number})
            assert [p["id"] for p in resp.json()["items"]] == [str(target.id)]
            for ref in (target.patient_number.lower(), target.national_id):
                read = await client.get(f"{URL}/{ref}", headers=nurse)
                assert read.json()["id"] == str(target.id), ref
        assert len(repository._STATEMENTS) == 3  # + the patient-number shape, built once

    async def test_q_with_pt_prefix_matches_generated_numbers(self, client, nurse, session):
        target = await make_patient(session)
        resp = await client.get(f"{URL}/search", params={"q": target.patient_number.lower()},
                                headers=nurse)
        assert resp.json()["items"][0]["id"] == str(target.id)

    async def test_name_is_partial_case_and_accent_insensitive(self, client, nurse, session):
        jose = await make_patient(session, full_name="José Ibáñez")
        assert (await client.get(f"{URL}/search", params={"name": "jose"}, headers=nurse)
                ).json()["items"][0]["id"] == str(jose.id)
        assert (await client.get(f"{URL}/search", params={"name": "IBANEZ"}, headers=nurse)
                ).json()["items"][0]["id"] == str(jose.id)
        assert (await client.get(f"{URL}/search", params={"q": "josé ibá"}, headers=nurse)
                ).json()["items"][0]["id"] == str(jose.id)

    async def test_arabic_name_ignores_hamza_and_diacritics(self, client, nurse, session):
        ahmed = await make_patient(session, full_name="أَحمد فاطمة")
        resp = await client.get(f"{URL}/search", params={"name": "احمد فاطمه"}, headers=nurse)
        assert [p["id"] for p in resp.json()["items"]] == [str(ahmed.id)]

    async def test_filters_combine_with_and(self, client, nurse, session):
        target = await make_patient(session, full_name="Hana Tarek")
        other = await make_patient(session, full_name="Hana Tarek")
        resp = await client.get(f"{URL}/search", headers=nurse,
                                params={"name": "hana", "mobile": target.mobile})
        assert [p["id"] for p in resp.json()["items"]] == [str(target.id)]
        none = await client.get(f"{URL}/search", headers=nurse,
                                params={"ssn": target.national_id, "q": other.national_id})
        assert none.json()["total"] == 0

    async def test_exact_name_ranks_first(self, client, nurse, session):
        await make_patient(session, full_name="Aaron Nour")
        exact = await make_patient(session, full_name="Nour")
        resp = await client.get(f"{URL}/search", params={"name": "nour"}, headers=nurse)
        assert resp.json()["items"][0]["id"] == str(exact.id)

    async def test_pagination_envelope(self, client, nurse, session):
        for i in range(3):
            await make_patient(session, full_name=f"Paged Zzpage{i}")
        resp = await client.get(f"{URL}/search", headers=nurse,
                                params={"name": "zzpage", "page": 2, "limit": 2})
        body = resp.json()
        assert (body["total"], body["page"], body["page_size"]) == (3, 2, 2)
        assert [p["full_name"] for p in body["items"]] == ["Paged Zzpage2"]

    async def test_search_is_audited_without_phi(self, client, physician, session):
        target = await make_patient(session, full_name="Audit Searchable")
        await client.get(f"{URL}/search", params={"ssn": target.national_id},
                         headers=physician)
        events = await audit.list_events(session, action="search", entity_type="patient")
        assert len(events) == 1
        changes = events[0].changes
        assert changes["patient_ids"] == [str(target.id)]
        assert changes["criteria"] == ["ssn"]
        assert target.national_id not in str(changes)

    async def test_invalid_ssn_or_mobile_is_422(self, client, nurse):
        bad_ssn = await client.get(f"{URL}/search", params={"ssn": "123"}, headers=nurse)
        assert bad_ssn.status_code == 422
        assert _field_errors(bad_ssn) == {"ssn": "string_pattern_mismatch"}
        bad_mobile = await client.get(f"{URL}/search", params={"mobile": "01312345678"},
                                      headers=nurse)
        assert bad_mobile.status_code == 422
        assert _field_errors(bad_mobile) == {"mobile": "mobile_format"}

    async def test_needs_a_token(self, client):
        assert (await client.get(f"{URL}/search", params={"q": "x"})).status_code == 401


class TestHostileInput:
    """Input PostgreSQL cannot store is refused as 4xx, never a 500."""

    async def test_nul_in_body_is_422(self, client, nurse):
        resp = await client.post(URL, json=seed_payload(full_name="Nul\x00 Name"),
                                 headers=nurse)
        assert resp.status_code == 422
        assert "full_name" in _field_errors(resp)

    async def test_nul_in_search_is_422(self, client, nurse):
        resp = await client.get(f"{URL}/search", params={"q": "a\x00b"}, headers=nurse)
        assert resp.status_code == 422

    async def test_nul_in_path_is_404(self, client, nurse):
        resp = await client.get(f"{URL}/PT%00X", headers=nurse)
        assert resp.status_code == 404

    async def test_ligature_heavy_name_fits(self, client, nurse):
        resp = await client.post(URL, json=seed_payload(full_name="\ufdfa" * 100),
                                 headers=nurse)
        assert resp.status_code == 201
