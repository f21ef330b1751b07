"""Revision 0006 encrypts the identifiers of patients already stored, keeps them
searchable, and its downgrade restores the plaintext."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime

from sqlalchemy import inspect, text

from hms.core import crypto
from hms.db.migrate import downgrade, upgrade
from hms.db.session import Database
from hms.patients.models import search_token
from hms.patients.repository import PatientRepository, SearchCriteria
from tests.conftest import TEST_DB, _pg_admin, _pg_database_url

ROWS = [
    {"national_id": "29001010100015", "mobile": "01012345678", "phone": "02 2345 6789",
     "email": "first@example.org", "address_line": "1 Nile Street",
     "passport_number": "A1234567", "other_identifier": None,
     "emergency_contact_phone": "01199998888"},
    {"national_id": "30105052101234", "mobile": "01511112222", "phone": None,
     "email": None, "address_line": None, "passport_number": None,
     "other_identifier": "MOI-1", "emergency_contact_phone": None},
    {"national_id": None, "mobile": None, "phone": None, "email": None,
     "address_line": "no identifiers", "passport_number": "Z9", "other_identifier": None,
     "emergency_contact_phone": None},
]
ENCRYPTED = list(ROWS[0])


def _database(tmp_path) -> tuple[str, str | None]:
    if TEST_DB == "postgres":
        name = f"hms_enc_{os.getpid()}"
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_admin(f'CREATE DATABASE "{name}"')
        return _pg_database_url(name), name
    return f"sqlite+aiosqlite:///{tmp_path / 'enc.db'}", None


async def _insert_plaintext(url: str) -> list[uuid.UUID]:
    db = Database(url, pool_size=1)
    ids = []
    now = datetime.now(UTC)
    try:
        async with db.engine.begin() as conn:
            for i, row in enumerate(ROWS):
                pid = uuid.uuid4()
                ids.append(pid)
                await conn.execute(text(
                    "INSERT INTO patients (id, patient_number, full_name, name_search, "
                    "is_active, version, created_at, updated_at, " + ", ".join(ENCRYPTED) +
                    ") VALUES (:id, :num, :name, :name, :active, 1, :now, :now, " +
                    ", ".join(f":{c}" for c in ENCRYPTED) + ")"),
                    {"id": pid.hex if TEST_DB == "sqlite" else pid, "num": f"PT-LEGACY-{i}",
                     "name": f"legacy person {i}", "active": True, "now": now, **row})
    finally:
        await db.dispose()
    return ids


async def _raw_rows(url: str) -> dict[str, dict]:
    db = Database(url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT * FROM patients ORDER BY patient_number"))).mappings().all()
            return {r["patient_number"]: dict(r) for r in rows}
    finally:
        await db.dispose()


async def _raw_search(url: str) -> dict[str, str]:
    """Patient number found by an equality on each blind-index column, with the tokens the
    app computes (``hms.patients.models.search_token``)."""
    db = Database(url, pool_size=1)
    found = {}
    try:
        async with db.engine.connect() as conn:
            for column, value in (("national_id", "29001010100015"),
                                  ("mobile", "01511112222"), ("phone", "0223456789"),
                                  ("passport_number", "a1234567")):
                found[column] = ",".join((await conn.execute(text(
                    f"SELECT patient_number FROM patients WHERE {column}_bidx = :t"),
                    {"t": search_token(column, value)})).scalars())
    finally:
        await db.dispose()
    return found


RAW_FOUND = {"national_id": "PT-LEGACY-0", "mobile": "PT-LEGACY-1", "phone": "PT-LEGACY-0",
             "passport_number": "PT-LEGACY-0"}


async def _search(url: str) -> dict[str, str]:
    """Patient number found by each kind of exact search, through the app's repository."""
    db = Database(url, pool_size=1)
    found = {}
    try:
        async with db.sessionmaker() as session:
            repo = PatientRepository(session)
            for key, criteria in {
                "ssn": SearchCriteria(national_ids=("29001010100015",)),
                "mobile": SearchCriteria(mobiles=("01511112222",)),
                "passport": SearchCriteria(passports=("a1234567",)),
            }.items():
                rows, _, _ = await repo.search(criteria, offset=0, limit=5)
                found[key] = ",".join(p["patient_number"] for p in rows)
            by_ref = await repo.by_ref("30105052101234")
            found["ref"] = by_ref.patient_number if by_ref else ""
            full = await repo.by_ref("PT-LEGACY-0")
            assert full is not None
            found["decrypted_email"] = full.email or ""
    finally:
        await db.dispose()
    return found


async def _columns(url: str) -> tuple[set[str], set[str]]:
    db = Database(url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            def names(sync_conn):
                insp = inspect(sync_conn)
                cols = {c["name"] for c in insp.get_columns("patients")}
                uniques = {u["name"] for u in insp.get_unique_constraints("patients")}
                idx = {i["name"] for i in insp.get_indexes("patients")}
                return cols, uniques | idx
            return await conn.run_sync(names)
    finally:
        await db.dispose()


def test_backfill_encrypts_and_downgrade_restores(tmp_path):
    url, pg_name = _database(tmp_path)
    try:
        upgrade(url, "0005")
        asyncio.run(_insert_plaintext(url))

        upgrade(url, "0006")
        rows = asyncio.run(_raw_rows(url))
        ring = crypto.key_ring()
        for i, plain in enumerate(ROWS):
            raw = rows[f"PT-LEGACY-{i}"]
            for column, value in plain.items():
                if value is None:
                    assert raw[column] is None
                    continue
                assert raw[column].startswith(f"v1:{ring.active_key_id}:"), column
                # Short values (a 2-character passport stub) can occur in base64 by chance;
                # the prefix and the decryption below prove the column holds ciphertext.
                if len(value) >= 8:
                    assert value not in raw[column]
                assert ring.decrypt(raw[column], f"patients.{column}") == value
        first = rows["PT-LEGACY-0"]
        assert first["national_id_bidx"] == ring.blind_index(
            "29001010100015", "patients.national_id")
        assert rows["PT-LEGACY-2"]["national_id_bidx"] is None
        columns, indexes = asyncio.run(_columns(url))
        assert {"national_id_bidx", "mobile_bidx", "phone_bidx",
                "passport_number_bidx"} <= columns
        assert {"uq_patients_national_id_bidx", "ix_patients_mobile_bidx",
                "ix_patients_passport_number_bidx"} <= indexes
        assert "uq_patients_national_id" not in indexes and "ix_patients_mobile" not in indexes

        assert asyncio.run(_raw_search(url)) == RAW_FOUND

        upgrade(url)  # the app's own queries run against the current head
        assert asyncio.run(_search(url)) == {
            "ssn": "PT-LEGACY-0", "mobile": "PT-LEGACY-1", "passport": "PT-LEGACY-0",
            "ref": "PT-LEGACY-1", "decrypted_email": "first@example.org"}

        downgrade(url, "0005")
        rows = asyncio.run(_raw_rows(url))
        for i, plain in enumerate(ROWS):
            raw = rows[f"PT-LEGACY-{i}"]
            assert {c: raw[c] for c in ENCRYPTED} == plain
            assert "national_id_bidx" not in raw
        columns, indexes = asyncio.run(_columns(url))
        assert "uq_patients_national_id" in indexes and "ix_patients_mobile" in indexes

        upgrade(url, "0006")  # and again, from the restored plaintext
        assert asyncio.run(_raw_search(url)) == RAW_FOUND
    finally:
        if pg_name:
            _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def test_upgrade_grants_the_identifier_permission(tmp_path):
    url, pg_name = _database(tmp_path)

    async def grants() -> tuple[set[str], bool]:
        db = Database(url, pool_size=1)
        try:
            async with db.engine.connect() as conn:
                holders = set((await conn.execute(text(
                    "SELECT role FROM role_permissions WHERE permission = "
                    "'patient:read_identifiers'"))).scalars())
                listed = (await conn.execute(text(
                    "SELECT count(*) FROM permission_catalogue WHERE name = "
                    "'patient:read_identifiers'"))).scalar_one() == 1
                return holders, listed
        finally:
            await db.dispose()

    try:
        upgrade(url, "0006")
        assert asyncio.run(grants()) == ({"super_admin", "admin", "nurse"}, True)
        downgrade(url, "0005")
        assert asyncio.run(grants()) == (set(), False)
    finally:
        if pg_name:
            _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
