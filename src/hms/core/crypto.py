"""Field encryption at rest (AES-256-GCM) and keyed blind indexes (HMAC-SHA256).

Pure mechanism: no domain imports. The public API is small on purpose:

- :class:`KeyRing` -- the keys: ``KeyRing.from_settings(settings)``, ``encrypt``, ``decrypt``,
  ``key_id_of``, ``blind_index``.
- :func:`key_ring` -- the process's key ring (built from ``get_settings()``, or the one
  installed with :func:`install_key_ring`).
- :func:`encrypt` / :func:`decrypt` / :func:`blind_index` -- the same on :func:`key_ring`.
- :class:`EncryptedString` -- SQLAlchemy column type that encrypts on write and decrypts on
  read; comparisons in SQL are refused (search through a blind-index column instead).
- :func:`using_default_keys` -- True when the development keys are in force (production
  refuses to start with them; the check lives with the start-up checks).

Ciphertext format (``v1``)::

    v1:<key_id>:<base64(nonce[12] | ciphertext | tag[16])>

Each value names the key that encrypted it, so keys rotate without a flag day: add a new key
to ``HMS_ENCRYPTION_KEYS``, make it ``HMS_ENCRYPTION_ACTIVE_KEY``, run ``hms rotate-keys``,
then retire the old key. The GCM associated data is ``"v1|" + label``, where the label names
the column (e.g. ``"patients.national_id"``): a ciphertext copied into another column fails
to decrypt instead of disclosing the value there. Nonces are 96 random bits per value, so
one key may encrypt up to 2**32 values (NIST SP 800-38D section 8.3) -- far beyond a
hospital's lifetime of writes, and rotation resets the count. Decryption of a tampered,
truncated or foreign value raises :class:`DecryptionError`, never returns garbage. The
``v1`` format is a stable contract: a later format must keep decrypting ``v1``.

Settings (environment):

- ``HMS_ENCRYPTION_KEYS``: JSON object ``{"key_id": "<base64 of 32 random bytes>", ...}``;
  key ids are 1-32 characters ``[A-Za-z0-9_-]``.
- ``HMS_ENCRYPTION_ACTIVE_KEY``: the id that encrypts new values (optional when there is
  exactly one key).
- ``HMS_BLIND_INDEX_KEY``: base64 of 32 random bytes, the HMAC key of the blind indexes.
  Rotating it means recomputing every index from the decrypted values (a full re-index), so
  it is not part of ``hms rotate-keys``.

Unset, development/test keys are derived from ``HMS_JWT_SECRET`` with HKDF-SHA256 (key id
``dev``). They are for development and tests only: anyone who knows the JWT secret can
derive them, and the default JWT secret is public.

Generate a key with ``python -c "import os, base64; print(base64.b64encode(os.urandom(32))
.decode())"``. Keep the keys outside the database and its backups (environment or a secret
manager): the point of encryption at rest is that a copy of the database alone discloses
nothing.

Source: NIST SP 800-38D (GCM), RFC 5869 (HKDF), RFC 2104 (HMAC); blind indexes as in
Paragon's CipherSweet design.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators

from hms.config import Settings, get_settings

FORMAT = "v1"
DEV_KEY_ID = "dev"
KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_HKDF_SALT = b"hms development keys (not for production)"


class CryptoConfigError(ValueError):
    """The key settings are unusable (bad base64, wrong length, unknown active key id).

    The message names the setting and key id, never key material.
    """


class DecryptionError(ValueError):
    """A stored value cannot be decrypted: tampered, truncated, moved from another column,
    or encrypted under a key id the key ring does not hold. The message never contains the
    value."""


#: How a blind index normalises its input before hashing.
Normalisation = Literal["digits", "alphanumeric", "email", "exact"]


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isascii() and c.isdigit())


def _alphanumeric(value: str) -> str:
    folded = unicodedata.normalize("NFKC", value)
    return "".join(c for c in folded if c.isalnum()).upper()


def _email(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().lower()


def _exact(value: str) -> str:
    return value


_NORMALISERS: dict[str, Callable[[str], str]] = {
    "digits": _digits,
    "alphanumeric": _alphanumeric,
    "email": _email,
    "exact": _exact,
}


def _decode_key(value: str, setting: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CryptoConfigError(f"{setting} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise CryptoConfigError(f"{setting} must decode to {KEY_BYTES} bytes, not {len(key)}")
    return key


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=_HKDF_SALT,
                info=purpose).derive(secret.encode("utf-8"))


@dataclass(frozen=True)
class KeyRing:
    """Encryption keys by id, the id that encrypts, and the blind-index key.

    Build it with :meth:`from_settings`; construct directly in tests or tools.

    Attributes:
        keys: key id -> 32-byte AES-256 key. Every id that ever encrypted a stored value
            must stay here until ``hms rotate-keys`` has moved those values off it.
        active_key_id: the id used by :meth:`encrypt`.
        blind_index_key: 32-byte HMAC-SHA256 key of :meth:`blind_index`.
    """

    keys: Mapping[str, bytes]
    active_key_id: str
    blind_index_key: bytes

    def __post_init__(self) -> None:
        for key_id, key in self.keys.items():
            if not _KEY_ID_RE.match(key_id):
                raise CryptoConfigError(
                    "encryption key ids are 1-32 characters of letters, digits, '_' or '-'")
            if len(key) != KEY_BYTES:
                raise CryptoConfigError(f"encryption key {key_id!r} is not {KEY_BYTES} bytes")
        if self.active_key_id not in self.keys:
            raise CryptoConfigError(
                f"HMS_ENCRYPTION_ACTIVE_KEY {self.active_key_id!r} is not in "
                "HMS_ENCRYPTION_KEYS")
        if len(self.blind_index_key) != KEY_BYTES:
            raise CryptoConfigError(f"HMS_BLIND_INDEX_KEY must be {KEY_BYTES} bytes")

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """The key ring the settings describe (see the module docstring).

        Without ``encryption_keys`` the encryption key is the development key ``dev``;
        without ``blind_index_key`` the blind-index key is a development key too; both are
        derived from ``jwt_secret`` with HKDF-SHA256 (development and tests only).

        Raises:
            CryptoConfigError: a key is not base64 of 32 bytes, a key id is malformed, the
                active key id is missing from the keys (or not given while there are
                several keys), or ``environment`` is ``production`` and a development key
                would be used (so no tool, e.g. ``hms migrate``, encrypts with them there).
        """
        if settings.environment == "production" and using_default_keys(settings):
            raise CryptoConfigError(
                "production needs HMS_ENCRYPTION_KEYS and HMS_BLIND_INDEX_KEY; the "
                "development keys are derived from the JWT secret")
        if settings.encryption_keys:
            keys = {key_id: _decode_key(value, f"HMS_ENCRYPTION_KEYS[{key_id!r}]")
                    for key_id, value in settings.encryption_keys.items()}
            active = settings.encryption_active_key
            if active is None:
                if len(keys) != 1:
                    raise CryptoConfigError(
                        "HMS_ENCRYPTION_ACTIVE_KEY is required with several encryption keys")
                active = next(iter(keys))
        else:
            keys = {DEV_KEY_ID: _derive(settings.jwt_secret, b"hms encryption key v1")}
            active = settings.encryption_active_key or DEV_KEY_ID
        if settings.blind_index_key:
            bidx = _decode_key(settings.blind_index_key, "HMS_BLIND_INDEX_KEY")
        else:
            bidx = _derive(settings.jwt_secret, b"hms blind index key v1")
        return cls(keys=keys, active_key_id=active, blind_index_key=bidx)

    def encrypt(self, plaintext: str, label: str) -> str:
        """Encrypt ``plaintext`` under the active key, bound to ``label``.

        Args:
            plaintext: any text (UTF-8 encoded before encryption).
            label: where the value lives, e.g. ``"patients.national_id"``; decrypting needs
                the same label.

        Returns:
            ``v1:<key_id>:<base64(nonce|ciphertext|tag)>`` (ASCII). The length is about
            ``4/3 * (len(utf8) + 28) + 4 + len(key_id)`` characters.
        """
        key_id = self.active_key_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.keys[key_id]).encrypt(nonce, plaintext.encode("utf-8"),
                                                   _associated_data(label))
        return f"{FORMAT}:{key_id}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str, label: str) -> str:
        """Decrypt a value made by :meth:`encrypt` under any key of the ring.

        Args:
            token: the stored value.
            label: the label it was encrypted with (its column).

        Returns:
            The plaintext.

        Raises:
            DecryptionError: malformed, unknown key id, tampered, or another label.
        """
        key_id, blob = _split(token)
        key = self.keys.get(key_id)
        if key is None:
            raise DecryptionError(f"value encrypted under key id {key_id!r}, which is not in "
                                  "HMS_ENCRYPTION_KEYS")
        try:
            plain = AESGCM(key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:],
                                        _associated_data(label))
        except InvalidTag:
            raise DecryptionError(
                f"value of {label} failed authentication (tampered, or not from this "
                "column)") from None
        return plain.decode("utf-8")

    def needs_rotation(self, token: str) -> bool:
        """True when ``token`` was not encrypted under the active key.

        Raises:
            DecryptionError: ``token`` is not a ``v1`` value.
        """
        return key_id_of(token) != self.active_key_id

    def blind_index(self, value: str, purpose: str,
                    normalisation: Normalisation = "digits") -> str:
        """Keyed, deterministic search token of ``value``: equal inputs (after
        normalisation) give equal tokens, so an indexed equality on a ``*_bidx`` column
        finds the row without decrypting anything.

        Args:
            value: the plaintext.
            purpose: what the index is for, e.g. ``"national_id"``; mixed into the HMAC, so
                the same digits in two columns give unrelated tokens.
            normalisation: ``digits`` (IDs, phone numbers: every non-digit dropped),
                ``alphanumeric`` (passports: letters and digits, upper case), ``email``
                (trimmed, lower case), ``exact``.

        Returns:
            64 lower-case hex characters (HMAC-SHA256).

        The HMAC key must be as secret as the encryption keys: identifiers have little
        entropy (a national ID encodes a birth date), so whoever holds the key can enumerate
        candidates and match them against the indexes.
        """
        normalised = _NORMALISERS[normalisation](value)
        message = purpose.encode("utf-8") + b"\x00" + normalised.encode("utf-8")
        return hmac.new(self.blind_index_key, message, hashlib.sha256).hexdigest()


def _associated_data(label: str) -> bytes:
    return f"{FORMAT}|{label}".encode()


def _split(token: str) -> tuple[str, bytes]:
    parts = token.split(":", 2) if isinstance(token, str) else []
    if len(parts) != 3 or parts[0] != FORMAT or not _KEY_ID_RE.match(parts[1]):
        raise DecryptionError("stored value is not a v1 ciphertext")
    try:
        blob = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("stored value is not a v1 ciphertext (bad base64)") from None
    if len(blob) < _NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError("stored value is not a v1 ciphertext (too short)")
    return parts[1], blob


def key_id_of(token: str) -> str:
    """The key id a stored value names (``v1:<key_id>:...``).

    Raises:
        DecryptionError: not a ``v1`` value.
    """
    return _split(token)[0]


def using_default_keys(settings: Settings) -> bool:
    """True when the encryption or the blind-index key is the development default derived
    from ``jwt_secret`` (``HMS_ENCRYPTION_KEYS`` or ``HMS_BLIND_INDEX_KEY`` unset).
    Production must refuse to start then."""
    return not settings.encryption_keys or not settings.blind_index_key


_installed: KeyRing | None = None
_cached: tuple[Settings, KeyRing] | None = None


def key_ring() -> KeyRing:
    """The key ring in force: the one installed with :func:`install_key_ring`, else the one
    of ``hms.config.get_settings()`` (rebuilt when the cached settings change).

    Raises:
        CryptoConfigError: the settings' keys are unusable.
    """
    global _cached
    if _installed is not None:
        return _installed
    settings = get_settings()
    if _cached is None or _cached[0] is not settings:
        _cached = (settings, KeyRing.from_settings(settings))
    return _cached[1]


def install_key_ring(ring: KeyRing | None) -> KeyRing | None:
    """Use ``ring`` for every encryption in this process (None: back to the settings').

    For tools and tests that run with other keys than the settings, e.g. a key rotation
    test. Returns the ring installed before, to restore it.
    """
    global _installed
    previous, _installed = _installed, ring
    return previous


def encrypt(plaintext: str, label: str) -> str:
    """:meth:`KeyRing.encrypt` with :func:`key_ring`."""
    return key_ring().encrypt(plaintext, label)


def decrypt(token: str, label: str) -> str:
    """:meth:`KeyRing.decrypt` with :func:`key_ring`.

    Raises:
        DecryptionError: see :meth:`KeyRing.decrypt`.
    """
    return key_ring().decrypt(token, label)


def blind_index(value: str, purpose: str, normalisation: Normalisation = "digits") -> str:
    """:meth:`KeyRing.blind_index` with :func:`key_ring`."""
    return key_ring().blind_index(value, purpose, normalisation)


class _RefuseComparisons(TypeDecorator.Comparator[str]):
    """SQL comparisons on ciphertext can never match (every encryption is randomised), so
    they are refused at query-build time rather than silently finding nothing; only
    ``IS NULL`` / ``IS NOT NULL`` are allowed."""

    _ALLOWED = frozenset({operators.is_, operators.is_not})

    def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
        if op in self._ALLOWED:
            return super().operate(op, *other, **kwargs)
        raise TypeError("encrypted column: compare its blind index instead")

    def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
        raise TypeError("encrypted column: compare its blind index instead")


class EncryptedString(TypeDecorator[str]):
    """A text column stored encrypted (AES-256-GCM, ``v1`` format, see the module
    docstring): ``str`` in Python, ciphertext in the database.

    Args:
        column_label: the associated data binding values to this column, conventionally
            ``"<table>.<column>"``. Never change it for an existing column: stored values
            would stop decrypting.

    Reading a value that fails to decrypt raises :class:`DecryptionError` (the request
    fails with 500) rather than returning garbage. SQL comparisons other than ``IS [NOT]
    NULL`` raise ``TypeError``: search through a blind-index column.
    """

    impl = Text
    cache_ok = True
    comparator_factory = _RefuseComparisons

    def __init__(self, column_label: str) -> None:
        super().__init__()
        self.column_label = column_label

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return key_ring().encrypt(value, self.column_label)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return key_ring().decrypt(value, self.column_label)

    def copy(self, **kw: Any) -> EncryptedString:
        return EncryptedString(self.column_label)

    def __repr__(self) -> str:
        return f"EncryptedString({self.column_label!r})"
