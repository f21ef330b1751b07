"""Password policy: length, character classes, username, breached-password list.

The rules and their defaults (settings ``password_min_length`` = 12,
``password_min_classes`` = 3) answer seed 003 NFR-SEC-001 ("min 12 chars, mixed case, numbers,
symbols"). The blocklist follows NIST SP 800-63B section 5.1.1.2 ("compare the prospective
secret against a list that contains values known to be commonly-used, expected, or
compromised", including context-specific words such as the username).

The bundled list ``data/common-passwords.txt.gz`` is Django's (BSD-3-Clause): 20,000 common
passwords by Royce Williams, lowercased and deduplicated; see ``data/README.md``.
"""

from __future__ import annotations

import gzip
import secrets
import string
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from hms.config import Settings, get_settings


@dataclass(frozen=True, slots=True)
class PolicyViolation:
    """One broken rule: ``rule`` is a stable code, ``message`` says what is needed."""

    rule: str
    message: str


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled breached/common password list, lowercased (loaded once, on first use)."""
    data = resources.files("hms.identity") / "data" / "common-passwords.txt.gz"
    with gzip.open(data.open("rb"), "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def _classes(password: str) -> int:
    lower = any(c.islower() for c in password)
    upper = any(c.isupper() for c in password)
    digit = any(c.isdigit() for c in password)
    symbol = any(not c.isalnum() for c in password)
    return sum((lower, upper, digit, symbol))


def check(password: str, *, username: str | None = None,
          settings: Settings | None = None) -> list[PolicyViolation]:
    """Every rule ``password`` breaks (empty list = acceptable).

    Args:
        password: the candidate, as typed (no trimming: spaces count as characters).
        username: the account's login name; the password may not contain it
            (case-insensitive).
        settings: defaults to :func:`hms.config.get_settings`.

    Returns:
        One :class:`PolicyViolation` per broken rule, in a fixed order: ``too_short``,
        ``too_few_classes``, ``contains_username``, ``too_common``.

    Source: NIST SP 800-63B section 5.1.1.2 (length, blocklist of common/compromised values
    and context-specific words); seed 003 NFR-SEC-001 (12 characters, character classes).
    """
    s = settings or get_settings()
    out: list[PolicyViolation] = []
    if len(password) < s.password_min_length:
        out.append(PolicyViolation(
            "too_short", f"must be at least {s.password_min_length} characters long"))
    if _classes(password) < s.password_min_classes:
        out.append(PolicyViolation(
            "too_few_classes",
            f"must mix at least {s.password_min_classes} of: lowercase letters, uppercase "
            "letters, digits, symbols"))
    name = (username or "").strip().lower()
    if name and name in password.lower():
        out.append(PolicyViolation("contains_username", "must not contain the username"))
    if password.strip().lower() in common_passwords():
        out.append(PolicyViolation(
            "too_common", "is a commonly used password found in breach lists"))
    return out


def generate(length: int = 20) -> str:
    """A random password meeting every rule: all four character classes, ``length`` chars.

    Used by ``hms demo`` for the demo accounts it prints. The symbols (``-_.@``) need no
    quoting in a shell, a URL-encoded form or JSON.
    """
    symbols = "-_.@"
    alphabet = string.ascii_letters + string.digits + symbols
    pools = (string.ascii_lowercase, string.ascii_uppercase, string.digits, symbols)
    while True:
        chars = [secrets.choice(pool) for pool in pools]
        size = max(length, get_settings().password_min_length)
        chars += [secrets.choice(alphabet) for _ in range(size - len(pools))]
        secrets.SystemRandom().shuffle(chars)
        candidate = "".join(chars)
        if not check(candidate):
            return candidate


__all__ = ["PolicyViolation", "check", "common_passwords", "generate"]
