"""Password hashing with pwdlib's recommended hasher (Argon2id)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    """Argon2id hash of ``password``."""
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Check ``password``; returns ``(ok, new_hash)`` where ``new_hash`` is set when the
    stored hash uses outdated parameters and should be replaced."""
    return _hasher().verify_and_update(password, password_hash)


# A valid hash to verify against when the username is unknown, so both paths take the
# same time and an attacker cannot tell which usernames exist.
@lru_cache
def dummy_hash() -> str:
    """A hash of a random string, computed once."""
    return hash_password("not-a-real-password-for-timing-only")
