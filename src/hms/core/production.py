"""Start-up refusal of insecure production settings: secrets come from the environment and
are never the development defaults."""

from __future__ import annotations

from hms.config import DEV_JWT_SECRET, Settings
from hms.core.crypto import CryptoConfigError, KeyRing, using_default_keys

#: HS256 keys shorter than the hash output weaken the MAC (RFC 7518 section 3.2: "a key of
#: the same size as the hash output (for instance, 256 bits for HS256) or larger MUST be used").
MIN_JWT_SECRET_BYTES = 32


class InsecureConfiguration(RuntimeError):
    """The settings are not fit for ``HMS_ENVIRONMENT=production``; the message lists every
    problem and the variable that fixes it (never the secret values)."""


def production_problems(settings: Settings) -> list[str]:
    """What makes ``settings`` unfit for production (empty outside production mode).

    Returns:
        One sentence per problem, naming the ``HMS_*`` variable to set.

    Source: RFC 7518 section 3.2 (HMAC key size); OWASP ASVS 4.0 V6.4.1 (secrets from a
        secrets store or the environment, never in code).
    """
    if settings.environment != "production":
        return []
    problems = []
    if settings.jwt_secret == DEV_JWT_SECRET:
        problems.append("HMS_JWT_SECRET is the development key; set a random secret "
                        "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
    elif len(settings.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
        problems.append(f"HMS_JWT_SECRET is shorter than {MIN_JWT_SECRET_BYTES} bytes")
    if using_default_keys(settings):
        problems.append("the patient-identifier encryption keys are the development keys; "
                        "set HMS_ENCRYPTION_KEYS, HMS_ENCRYPTION_ACTIVE_KEY and "
                        "HMS_BLIND_INDEX_KEY")
    else:
        try:
            KeyRing.from_settings(settings)
        except CryptoConfigError as exc:  # malformed key: its message names the variable
            problems.append(str(exc))
    return problems


def check_production_settings(settings: Settings) -> None:
    """Refuse to start in production with development or weak secrets.

    Raises:
        InsecureConfiguration: listing every problem found.
    """
    problems = production_problems(settings)
    if problems:
        raise InsecureConfiguration(
            "hms refuses to start with HMS_ENVIRONMENT=production: " + "; ".join(problems))
