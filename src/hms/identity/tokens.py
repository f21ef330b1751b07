"""JWT encoding and decoding (PyJWT). Claims: ``sub`` user id, ``sid`` session (refresh
family) id, ``jti``, ``typ`` access|refresh, ``iat``, ``exp``.

The role is deliberately not trusted from the token: each request reloads the user, so a
role change or deactivation takes effect at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt

from hms.config import Settings
from hms.core.errors import Unauthorized

TokenType = Literal["access", "refresh"]


def encode(
    settings: Settings,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    token_type: TokenType,
    issued_at: datetime,
    lifetime: timedelta,
    jti: str | None = None,
) -> tuple[str, str]:
    """Sign a token. Returns ``(token, jti)``."""
    jti = jti or uuid.uuid4().hex
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "sid": str(session_id),
        "jti": jti,
        "typ": token_type,
        "iat": int(issued_at.timestamp()),
        "exp": int((issued_at + lifetime).timestamp()),
        "iss": "hms",
    }
    token = jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
    return token, jti


def decode(settings: Settings, token: str, expected_type: TokenType) -> dict[str, Any]:
    """Verify signature, algorithm, expiry, issuer and type.

    Raises:
        Unauthorized (401): anything wrong with the token (no detail leaks which part).
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[settings.jwt_algorithm],
            issuer="hms",
            options={"require": ["exp", "iat", "sub", "sid", "jti", "typ"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid token") from exc
    if claims.get("typ") != expected_type:
        raise Unauthorized("Invalid token type")
    try:
        uuid.UUID(claims["sub"])
        uuid.UUID(claims["sid"])
    except (ValueError, TypeError) as exc:
        raise Unauthorized("Invalid token") from exc
    return claims
