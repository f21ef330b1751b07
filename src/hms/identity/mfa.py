"""TOTP multi-factor authentication (RFC 6238 via pyotp), recovery codes, and the encryption
of the TOTP secrets at rest.

- TOTP: SHA-1, 6 digits, 30-second steps (RFC 6238 defaults, what authenticator apps
  expect). A code is accepted for the current step and one step either side (RFC 6238
  section 5.2 allows for clock drift), and each step only once: the caller stores the last
  accepted step and refuses a code of the same or an earlier step (replay, RFC 6238 5.2).
- Secrets at rest: AES-256-GCM through :class:`hms.core.crypto.KeyRing` (``v1:<key id>:...``
  values), bound to the column and the user id (associated data ``users.mfa_secret:<id>``)
  so a ciphertext copied onto another account does not decrypt. The MFA key ring is its own:
  one key derived with HKDF-SHA256 from ``HMS_MFA_ENCRYPTION_KEY`` (any long random string;
  unset, from ``HMS_JWT_SECRET``). Its key id ``mfa-<8 hex>`` names the key, so a changed key
  is reported as such instead of as tampering.
- Recovery codes: 10 codes of 80 random bits (``XXXX-XXXX-XXXX-XXXX``, base32). Stored as
  keyed HMAC-SHA256 (the MFA key ring's blind index): their entropy makes a slow hash
  unnecessary (NIST SP 800-63B 5.1.2.1: look-up secrets of at least 64 bits may be stored
  with a keyed hash) and the keyed hash lets a login find the code with one indexed lookup.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid

import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hms.config import Settings, get_settings
from hms.core.crypto import DecryptionError, KeyRing

ISSUER = "hms"
STEP_SECONDS = 30
DIGITS = 6
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
_SALT = b"hms-mfa-v1"


def _derive(master: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT,
                info=purpose).derive(master.encode("utf-8"))


def key_ring(settings: Settings | None = None) -> KeyRing:
    """The MFA key ring: one AES-256 key and one HMAC key, both derived from
    ``mfa_encryption_key`` (or ``jwt_secret`` when unset)."""
    s = settings or get_settings()
    master = s.mfa_encryption_key or s.jwt_secret
    key = _derive(master, b"totp-secret-encryption")
    key_id = "mfa-" + hashlib.sha256(key).hexdigest()[:8]
    return KeyRing(keys={key_id: key}, active_key_id=key_id,
                   blind_index_key=_derive(master, b"recovery-code-hmac"))


def _label(user_id: uuid.UUID) -> str:
    return f"users.mfa_secret:{user_id}"


def encrypt_secret(secret: str, user_id: uuid.UUID, settings: Settings | None = None) -> str:
    """Seal a base32 TOTP secret for storage (AES-256-GCM, bound to the user id)."""
    return key_ring(settings).encrypt(secret, _label(user_id))


class SecretUnreadable(Exception):
    """The stored TOTP secret does not decrypt: another key (HMS_MFA_ENCRYPTION_KEY or, when
    unset, HMS_JWT_SECRET changed) or a tampered value. An operator problem (answers 500)."""


def decrypt_secret(stored: str, user_id: uuid.UUID, settings: Settings | None = None) -> str:
    """Open a value made by :func:`encrypt_secret`.

    Raises:
        SecretUnreadable: wrong key, tampered value or another user's ciphertext.
    """
    try:
        return key_ring(settings).decrypt(stored, _label(user_id))
    except DecryptionError as exc:
        raise SecretUnreadable(str(exc)) from exc


def new_secret() -> str:
    """A fresh random base32 TOTP secret (160 bits, RFC 4226 section 4 recommendation)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans (as a QR code)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=ISSUER)


def current_step(now: float | None = None) -> int:
    """The RFC 6238 time step (counter) at ``now`` (Unix seconds; default the clock)."""
    return int((time.time() if now is None else now) // STEP_SECONDS)


def looks_like_totp(code: str) -> bool:
    """True for a 6-digit code (spaces ignored); anything else is tried as a recovery code."""
    digits = code.replace(" ", "")
    return len(digits) == DIGITS and digits.isdigit()


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose TOTP equals ``code`` within +-``VALID_WINDOW`` steps, or None.

    Source: RFC 6238 sections 4 and 5.2 (one step of tolerated drift either side).
    """
    code = code.replace(" ", "")
    if not looks_like_totp(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    step = current_step(now)
    found = None
    for candidate in range(step - VALID_WINDOW, step + VALID_WINDOW + 1):
        # Compare every candidate (no early exit) in constant time.
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            found = candidate
    return found


def new_recovery_codes() -> list[str]:
    """``RECOVERY_CODE_COUNT`` fresh one-time recovery codes, ``XXXX-XXXX-XXXX-XXXX``."""
    out = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii")  # 80 bits, 16 chars
        out.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    return out


def recovery_code_hash(code: str, settings: Settings | None = None) -> str:
    """Keyed hash (HMAC-SHA256, 64 hex) of a recovery code; case, spaces and dashes ignored."""
    return key_ring(settings).blind_index(code, "mfa_recovery_code", "alphanumeric")


__all__ = [
    "ISSUER",
    "RECOVERY_CODE_COUNT",
    "SecretUnreadable",
    "current_step",
    "decrypt_secret",
    "encrypt_secret",
    "key_ring",
    "looks_like_totp",
    "matching_step",
    "new_recovery_codes",
    "new_secret",
    "provisioning_uri",
    "recovery_code_hash",
]
