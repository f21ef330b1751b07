"""Patient identifiers are encrypted at rest and still searchable (blind indexes).

The attacker here holds a copy of the database: raw SQL must show no identifier, a value
moved or altered must not decrypt, and exact search must not need the plaintext.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, text

from hms.core import crypto
from hms.core.crypto import DecryptionError
from hms.core.permissions import Role
from hms.patients import service
from hms.patients.schemas import IdentifierAccess
from tests.conftest import TEST_DB
from tests.identity.factories import auth_headers
from tests.patients.factories import make_patient, mobile, national_id, seed_payload

URL = "/api/v1/patients"
ENCRYPTED = ("national_id", "passport_number", "other_identifier", "mobile", "phone", "email",
             "address_line", "emergency_contact_phone")


async def _raw(session, patient_id: uuid.UUID) -> dict:
    session.expunge_all()
    row = (await session.execute(
        text("SELECT * FROM patients WHERE id = :id"),
        {"id": patient_id.hex if TEST_DB == "sqlite" else patient_id})).mappings().one()
    return dict(row)


async def _set_raw(session, patient_id: uuid.UUID, **values: str) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    await session.execute(
        text(f"UPDATE patients SET {sets} WHERE id = :id"),
        {**values, "id": patient_id.hex if TEST_DB == "sqlite" else patient_id})
    await session.commit()
    session.expunge_all()


@pytest.fixture
async def nurse(client, session) -> dict[str, str]:
    return await auth_headers(client, session, Role.NURSE)


class TestAtRest:
    async def test_raw_row_holds_no_plaintext_identifier(self, client, nurse, session):
        nid, mob = national_id(), mobile()
        body = seed_payload(ssn=nid, mobile_number=mob, phone_number="02 2345 6789",
                            email="mona.said@example.org", address_line="12 Tahrir Street",
                            passport_number="A98765432", other_identifier="MOI-777123",
                            emergency_contact_phone="01211112222")
        resp = await client.post(URL, json=body, headers=nurse)
        assert resp.status_code == 201, resp.text
        raw = await _raw(session, uuid.UUID(resp.json()["id"]))
        dump = repr(raw)
        for value in (nid, mob, "2345 6789", "22345", "mona.said", "example.org", "Tahrir",
                      "A98765432", "98765", "MOI-777123", "01211112222"):
            assert value not in dump, value
        for column in ENCRYPTED:
            assert raw[column].startswith(f"v1:{crypto.key_ring().active_key_id}:"), column
        # Blind indexes: 64 hex characters, not the value.
        for column in ("national_id_bidx", "mobile_bidx", "phone_bidx", "passport_number_bidx"):
            assert len(raw[column]) == 64 and int(raw[column], 16) >= 0
        assert raw["full_name"] == body["full_name"]  # names stay plaintext (name search)

    async def test_values_decrypt_back_through_the_api(self, client, nurse):
        body = seed_payload(email="Round.Trip@example.org", address_line="٣ شارع النيل")
        created = (await client.post(URL, json=body, headers=nurse)).json()
        got = (await client.get(f"{URL}/{created['id']}", headers=nurse)).json()
        assert got["national_id"] == body["ssn"]
        assert got["mobile"] == body["mobile_number"]
        assert got["email"] == "Round.Trip@example.org"
        assert got["address_line"] == "٣ شارع النيل"

    async def test_update_re_encrypts_and_re_indexes(self, client, nurse, session):
        patient = await make_patient(session)
        new_mobile = mobile("012")
        resp = await client.put(f"{URL}/{patient.id}", headers=nurse,
                                json={"mobile": new_mobile, "version": 1})
        assert resp.status_code == 200
        raw = await _raw(session, patient.id)
        assert new_mobile not in repr(raw)
        found = await client.get(f"{URL}/search", params={"mobile": new_mobile}, headers=nurse)
        assert [p["id"] for p in found.json()["items"]] == [str(patient.id)]
        old = await client.get(f"{URL}/search", params={"mobile": patient.mobile}, headers=nurse)
        assert old.json()["total"] == 0

    async def test_clearing_a_value_clears_its_index(self, client, nurse, session):
        patient = await make_patient(session, passport_number="P1234567")
        resp = await client.put(f"{URL}/{patient.id}", headers=nurse,
                                json={"passport_number": None, "version": 1})
        assert resp.status_code == 200
        raw = await _raw(session, patient.id)
        assert raw["passport_number"] is None and raw["passport_number_bidx"] is None

    async def test_audit_trail_holds_no_plaintext_identifier(self, client, nurse, session):
        nid = national_id()
        body = seed_payload(ssn=nid, email="audit.me@example.org")
        created = (await client.post(URL, json=body, headers=nurse)).json()
        await client.put(f"{URL}/{created['id']}", headers=nurse,
                         json={"mobile": "01599998888", "version": 1})
        rows = (await session.execute(text("SELECT changes FROM audit_log"))).scalars().all()
        dump = repr(rows)
        for value in (nid, body["mobile_number"], "01599998888", "audit.me"):
            assert value not in dump, value
        # The change itself is still recorded (masked).
        assert "*******888" in dump


class TestTampering:
    async def test_altered_ciphertext_fails_to_read(self, session):
        patient = await make_patient(session)
        raw = await _raw(session, patient.id)
        prefix, _, body = raw["national_id"].rpartition(":")
        flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
        await _set_raw(session, patient.id, national_id=f"{prefix}:{flipped}")
        with pytest.raises(DecryptionError):
            await service.get_summary(session, patient.id)

    async def test_national_id_ciphertext_copied_into_mobile_fails(self, session):
        patient = await make_patient(session)
        raw = await _raw(session, patient.id)
        await _set_raw(session, patient.id, mobile=raw["national_id"])
        with pytest.raises(DecryptionError, match=r"patients\.mobile"):
            await service.get_patient(session, patient.id,
                                      access=IdentifierAccess.FULL)

    async def test_plaintext_written_behind_the_apps_back_is_refused(self, session):
        patient = await make_patient(session)
        await _set_raw(session, patient.id, email="sneaky@example.org")
        with pytest.raises(DecryptionError):
            await service.get_patient(session, patient.id,
                                      access=IdentifierAccess.FULL)


class TestSearchUsesBlindIndexes:
    @pytest.fixture
    def statements(self, db):
        seen: list[tuple[str, object]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            seen.append((statement, parameters))

        event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
        yield seen
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)

    async def test_search_sql_compares_indexes_never_plaintext(
        self, client, nurse, session, statements
    ):
        target = await make_patient(session, passport_number="X7654321")
        statements.clear()
        for params in ({"ssn": target.national_id}, {"mobile": target.mobile},
                       {"passport": "x765-4321"}, {"q": target.national_id}):
            resp = await client.get(f"{URL}/search", params=params, headers=nurse)
            assert [p["id"] for p in resp.json()["items"]] == [str(target.id)], params
        searches = [(sql, p) for sql, p in statements
                    if "FROM patients" in sql and "count(" not in sql.lower()]
        assert len(searches) == 4
        for column, (sql, params) in zip(
                ("national_id_bidx", "mobile_bidx", "passport_number_bidx", "national_id_bidx"),
                searches, strict=True):
            assert f"patients.{column} =" in sql
            for plain in ("national_id =", "mobile =", "passport_number ="):
                assert f"patients.{plain}" not in sql
            assert target.national_id not in repr(params)
            assert target.mobile not in repr(params)
            assert "7654321" not in repr(params)

    async def test_lookup_by_national_id_reference_uses_the_index(
        self, client, nurse, session, statements
    ):
        target = await make_patient(session)
        statements.clear()
        resp = await client.get(f"{URL}/{target.national_id}", headers=nurse)
        assert resp.status_code == 200
        lookups = [(sql, p) for sql, p in statements if "FROM patients" in sql]
        assert lookups and "patients.national_id_bidx =" in lookups[0][0]
        assert target.national_id not in repr(lookups[0][1])

    @pytest.mark.parametrize(("column", "index"), [
        ("national_id_bidx", "uq_patients_national_id_bidx"),
        ("mobile_bidx", "ix_patients_mobile_bidx"),
        ("passport_number_bidx", "ix_patients_passport_number_bidx"),
        ("phone_bidx", "ix_patients_phone_bidx"),
    ])
    async def test_index_equality_is_an_index_search(self, session, column, index):
        await make_patient(session)
        token = "0" * 64
        query = f"SELECT id FROM patients WHERE {column} = :t"
        if TEST_DB == "postgres":
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join((await session.execute(
                text(f"EXPLAIN {query}"), {"t": token})).scalars())
            assert index in plan, plan
        else:
            plan = repr((await session.execute(
                text(f"EXPLAIN QUERY PLAN {query}"), {"t": token})).all())
            assert "USING" in plan and "INDEX" in plan, plan
            assert "SCAN patients" not in plan, plan


class TestUniqueness:
    async def test_duplicate_national_id_is_refused_by_the_index_itself(self, session):
        patient = await make_patient(session)
        raw = await _raw(session, patient.id)
        other = await make_patient(session)
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            await _set_raw(session, other.id, national_id_bidx=raw["national_id_bidx"])
