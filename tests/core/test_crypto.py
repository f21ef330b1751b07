"""Field encryption and blind indexes (hms.core.crypto), attacked directly."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import Column, MetaData, Table, select

from hms.config import Settings
from hms.core import crypto
from hms.core.crypto import CryptoConfigError, DecryptionError, EncryptedString, KeyRing

LABEL = "patients.national_id"
NID = "29001010100015"


def _key() -> bytes:
    return os.urandom(32)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing(keys={"k1": _key()}, active_key_id="k1", blind_index_key=_key())


class TestEncryption:
    def test_round_trip_and_format(self, ring):
        token = ring.encrypt(NID, LABEL)
        assert token.startswith("v1:k1:")
        assert NID not in token
        assert ring.decrypt(token, LABEL) == NID

    def test_same_value_encrypts_differently_each_time(self, ring):
        assert ring.encrypt(NID, LABEL) != ring.encrypt(NID, LABEL)

    def test_unicode_round_trip(self, ring):
        address = "١٢ شارع التحرير، الدقي"
        assert ring.decrypt(ring.encrypt(address, "patients.address_line"),
                            "patients.address_line") == address

    @pytest.mark.parametrize("position", [8, 20, -1])
    def test_tampered_ciphertext_is_an_error_not_garbage(self, ring, position):
        token = ring.encrypt(NID, LABEL)
        body = bytearray(base64.b64decode(token.split(":", 2)[2]))
        body[position] ^= 0x01
        forged = "v1:k1:" + base64.b64encode(bytes(body)).decode()
        with pytest.raises(DecryptionError) as err:
            ring.decrypt(forged, LABEL)
        assert NID not in str(err.value)

    def test_value_moved_to_another_column_does_not_decrypt(self, ring):
        token = ring.encrypt(NID, "patients.national_id")
        with pytest.raises(DecryptionError, match=r"patients\.mobile"):
            ring.decrypt(token, "patients.mobile")

    @pytest.mark.parametrize("token", ["29001010100015", "", "v1:k1:", "v1:k1:not base64!",
                                       "v2:k1:AAAA", "v1:k1:" + "A" * 16, "v1:bad id:AAAA"])
    def test_malformed_values_are_refused(self, ring, token):
        with pytest.raises(DecryptionError):
            ring.decrypt(token, LABEL)

    def test_value_under_a_key_not_in_the_ring_is_refused(self, ring):
        other = KeyRing(keys={"k9": _key()}, active_key_id="k9", blind_index_key=_key())
        with pytest.raises(DecryptionError, match="k9"):
            ring.decrypt(other.encrypt(NID, LABEL), LABEL)

    def test_a_key_with_the_same_id_but_other_bytes_fails(self, ring):
        impostor = KeyRing(keys={"k1": _key()}, active_key_id="k1", blind_index_key=_key())
        with pytest.raises(DecryptionError):
            impostor.decrypt(ring.encrypt(NID, LABEL), LABEL)

    def test_old_key_still_decrypts_after_the_active_key_changes(self, ring):
        old_token = ring.encrypt(NID, LABEL)
        rotated = KeyRing(keys={**ring.keys, "k2": _key()}, active_key_id="k2",
                          blind_index_key=ring.blind_index_key)
        assert rotated.decrypt(old_token, LABEL) == NID
        assert rotated.needs_rotation(old_token)
        new_token = rotated.encrypt(NID, LABEL)
        assert crypto.key_id_of(new_token) == "k2"
        assert not rotated.needs_rotation(new_token)


class TestBlindIndex:
    def test_deterministic_keyed_and_hex(self, ring):
        first = ring.blind_index(NID, "patients.national_id")
        assert first == ring.blind_index(NID, "patients.national_id")
        assert len(first) == 64 and int(first, 16) >= 0
        other_key = KeyRing(keys=ring.keys, active_key_id="k1", blind_index_key=_key())
        assert other_key.blind_index(NID, "patients.national_id") != first

    def test_purpose_separates_columns(self, ring):
        assert ring.blind_index("01012345678", "patients.mobile") != ring.blind_index(
            "01012345678", "patients.phone")

    def test_digits_normalisation(self, ring):
        assert ring.blind_index("010-1234 5678", "p") == ring.blind_index("01012345678", "p")

    def test_email_and_passport_normalisation(self, ring):
        assert ring.blind_index(" Mona@Example.ORG ", "e", "email") == ring.blind_index(
            "mona@example.org", "e", "email")
        assert ring.blind_index("a12-345 678", "p", "alphanumeric") == ring.blind_index(
            "A12345678", "p", "alphanumeric")


class TestKeyRingFromSettings:
    def test_configured_keys(self):
        k1, k2, bidx = _key(), _key(), _key()
        settings = Settings(encryption_keys={"k1": _b64(k1), "k2": _b64(k2)},
                            encryption_active_key="k2", blind_index_key=_b64(bidx))
        ring = KeyRing.from_settings(settings)
        assert ring.keys == {"k1": k1, "k2": k2}
        assert ring.active_key_id == "k2"
        assert ring.blind_index_key == bidx
        assert not crypto.using_default_keys(settings)

    def test_single_key_is_active_by_default(self):
        settings = Settings(encryption_keys={"only": _b64(_key())}, blind_index_key=_b64(_key()))
        assert KeyRing.from_settings(settings).active_key_id == "only"

    def test_defaults_are_derived_from_the_jwt_secret_and_flagged(self):
        a = KeyRing.from_settings(Settings(jwt_secret="x" * 40))
        b = KeyRing.from_settings(Settings(jwt_secret="x" * 40))
        c = KeyRing.from_settings(Settings(jwt_secret="y" * 40))
        assert a.keys == b.keys and a.blind_index_key == b.blind_index_key
        assert a.keys != c.keys
        assert a.active_key_id == crypto.DEV_KEY_ID
        assert a.keys[crypto.DEV_KEY_ID] != a.blind_index_key
        assert crypto.using_default_keys(Settings())

    def test_production_refuses_the_development_keys(self):
        with pytest.raises(CryptoConfigError):
            KeyRing.from_settings(Settings(environment="production", jwt_secret="z" * 48))

    @pytest.mark.parametrize("settings", [
        {"encryption_keys": {"k1": "not-base64!"}},
        {"encryption_keys": {"k1": base64.b64encode(b"short").decode()}},
        {"encryption_keys": {"k1": _b64(_key())}, "encryption_active_key": "k2"},
        {"encryption_keys": {"k1": _b64(_key()), "k2": _b64(_key())}},
        {"encryption_keys": {"bad:id": _b64(_key())}},
        {"blind_index_key": "AAAA"},
    ])
    def test_bad_key_settings_are_refused_without_echoing_keys(self, settings):
        with pytest.raises(CryptoConfigError) as err:
            KeyRing.from_settings(Settings(**settings))
        for value in settings.get("encryption_keys", {}).values():
            assert value not in str(err.value)


class TestEncryptedStringColumn:
    table = Table("t", MetaData(), Column("secret", EncryptedString("t.secret")))

    @pytest.mark.parametrize("build", [
        lambda c: c == "29001010100015",
        lambda c: c != "x",
        lambda c: c.like("290%"),
        lambda c: c.in_(["a", "b"]),
        lambda c: c.contains("0101"),
    ])
    def test_sql_comparisons_on_ciphertext_are_refused(self, build):
        with pytest.raises(TypeError, match="blind index"):
            build(self.table.c.secret)

    def test_null_checks_are_allowed(self):
        sql = str(select(self.table).where(self.table.c.secret.is_(None)))
        assert "IS NULL" in sql

    def test_install_key_ring_overrides_the_settings(self, ring):
        previous = crypto.install_key_ring(ring)
        try:
            assert crypto.key_ring() is ring
            assert crypto.decrypt(crypto.encrypt(NID, LABEL), LABEL) == NID
        finally:
            crypto.install_key_ring(previous)
        assert crypto.key_ring() is not ring
