"""Key rotation: values under an old key still read; ``hms rotate-keys`` moves them to the
active key, batch by batch, and is idempotent."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
import uuid
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hms.core import crypto
from hms.core.crypto import DecryptionError, KeyRing
from hms.db.key_rotation import rotate_keys
from hms.patients import service
from tests.conftest import TEST_DB
from tests.patients.factories import make_patient


def _rings() -> tuple[KeyRing, KeyRing]:
    """(old ring: key "old" active; new ring: "old" and "new", "new" active), both with the
    blind-index key in force (rotation leaves indexes alone) and the settings' keys (any
    other row of the test database stays readable)."""
    current = crypto.key_ring()
    bidx = current.blind_index_key
    old_key, new_key = os.urandom(32), os.urandom(32)
    old = KeyRing(keys={**current.keys, "old": old_key}, active_key_id="old",
                  blind_index_key=bidx)
    new = KeyRing(keys={**current.keys, "old": old_key, "new": new_key}, active_key_id="new",
                  blind_index_key=bidx)
    return old, new


@pytest.fixture
def restore_key_ring():
    yield
    crypto.install_key_ring(None)


def _id(patient_id: uuid.UUID) -> object:
    return patient_id.hex if TEST_DB == "sqlite" else patient_id


async def _key_ids(session, patient_id: uuid.UUID) -> dict[str, str | None]:
    row = (await session.execute(text(
        "SELECT national_id, mobile, email FROM patients WHERE id = :id"),
        {"id": _id(patient_id)})).mappings().one()
    return {k: (crypto.key_id_of(v) if v else None) for k, v in row.items()}


class TestRotation:
    async def test_old_values_read_then_rotate_to_the_new_key(
        self, session, connection, restore_key_ring
    ):
        old, new = _rings()
        crypto.install_key_ring(old)
        patients = [await make_patient(session, email=f"p{i}@example.org") for i in range(5)]
        assert (await _key_ids(session, patients[0].id))["national_id"] == "old"

        crypto.install_key_ring(new)
        session.expunge_all()
        # Still readable under the new active key: the old key stays in the ring.
        summary = await service.get_summary(session, patients[0].id)
        assert summary.national_id == patients[0].national_id

        @asynccontextmanager
        async def sessions():
            async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint",
                                    expire_on_commit=False) as s:
                yield s
                await s.commit()

        report = await rotate_keys(sessions, batch_size=2)
        by_column = {(c.table, c.column): c for c in report.columns}
        assert by_column[("patients", "national_id")].rotated >= 5
        assert by_column[("patients", "email")].rotated >= 5
        assert report.active_key_id == "new"
        for patient in patients:
            assert await _key_ids(session, patient.id) == {
                "national_id": "new", "mobile": "new", "email": "new"}
        session.expunge_all()
        for patient in patients:
            again = await service.get_summary(session, patient.id)
            assert again.national_id == patient.national_id
        # Searchable as before (indexes untouched).
        assert (await service.resolve(session, patients[3].national_id)).id == patients[3].id

        second = await rotate_keys(sessions)
        assert second.rotated == 0  # idempotent

        # The old key can now be retired.
        crypto.install_key_ring(KeyRing(
            keys={k: v for k, v in new.keys.items() if k != "old"}, active_key_id="new",
            blind_index_key=new.blind_index_key))
        session.expunge_all()
        assert (await service.get_summary(session, patients[1].id)).national_id == (
            patients[1].national_id)

    async def test_a_value_under_an_unknown_key_stops_the_rotation(
        self, session, connection, restore_key_ring
    ):
        stranger = KeyRing(keys={"gone": os.urandom(32)}, active_key_id="gone",
                           blind_index_key=crypto.key_ring().blind_index_key)
        crypto.install_key_ring(stranger)
        await make_patient(session)
        crypto.install_key_ring(None)

        @asynccontextmanager
        async def sessions():
            async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint",
                                    expire_on_commit=False) as s:
                yield s
                await s.commit()

        with pytest.raises(DecryptionError, match="gone"):
            await rotate_keys(sessions)


@pytest.mark.committed
class TestRotateKeysCommand:
    async def test_cli_re_encrypts_under_the_new_key(
        self, committed_app, db, settings, restore_key_ring
    ):
        old, new = _rings()
        crypto.install_key_ring(old)
        async with db.sessionmaker() as s:
            patient = await make_patient(s, email="cli@example.org")
        async with db.sessionmaker() as s:
            assert (await _key_ids(s, patient.id))["email"] == "old"

        env = {
            **os.environ,
            "HMS_DATABASE_URL": settings.effective_database_url,
            "HMS_ENCRYPTION_KEYS": json.dumps(
                {k: base64.b64encode(v).decode() for k, v in new.keys.items()}),
            "HMS_ENCRYPTION_ACTIVE_KEY": "new",
            "HMS_BLIND_INDEX_KEY": base64.b64encode(new.blind_index_key).decode(),
        }

        async def run_cli() -> tuple[int, str, str]:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hms", "rotate-keys", "--batch-size", "1", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await proc.communicate()
            return proc.returncode or 0, out.decode(), err.decode()

        code, out, err = await run_cli()
        assert code == 0, err
        for column in ("national_id", "mobile", "email"):
            found = re.search(rf"^patients\.{column}: (\d+) re-encrypted", out, re.M)
            assert found and int(found[1]) >= 1, out
        assert patient.national_id not in out + err and "cli@example.org" not in out + err
        async with db.sessionmaker() as s:
            assert await _key_ids(s, patient.id) == {
                "national_id": "new", "mobile": "new", "email": "new"}

        code, out, _ = await run_cli()
        assert code == 0
        assert "total: 0 values re-encrypted" in out

        crypto.install_key_ring(new)
        async with db.sessionmaker() as s:
            assert (await service.get_summary(s, patient.id)).national_id == patient.national_id
