"""Password hashing with pwdlib's Argon2id hasher, cost from settings."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from hms.config import get_settings


@lru_cache
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHash:
    return PasswordHash((Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib,
                                      parallelism=parallelism),))


def _current() -> PasswordHash:
    s = get_settings()
    return _hasher(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism)


def hash_password(password: str) -> str:
    """Argon2id hash of ``password`` (PHC string format)."""
    return _current().hash(password)


def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Check ``password``; returns ``(ok, new_hash)`` where ``new_hash`` is set when the
    stored hash uses other parameters than the current settings and should be replaced."""
    return _current().verify_and_update(password, password_hash)


# A valid hash to verify against when the username is unknown, so both paths take the
# same time and an attacker cannot tell which usernames exist.
def dummy_hash() -> str:
    """A hash of a fixed string with the current parameters, computed once per setting."""
    return _dummy(*_params())


def _params() -> tuple[int, int, int]:
    s = get_settings()
    return s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism


@lru_cache
def _dummy(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash("not-a-real-password-for-timing")
