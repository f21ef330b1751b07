"""Weak ETags carrying a row version: ``W/"<version>"``."""

from __future__ import annotations

from hms.core.errors import PreconditionFailed


def etag(version: int) -> str:
    """The ETag header value for ``version``."""
    return f'W/"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version in an ``If-Match`` header (``W/"3"``, ``"3"`` or ``3``); None if absent.

    Raises:
        PreconditionFailed (412): the header is present but names no version we issued
            (``*`` included: a blind overwrite is exactly what versions exist to stop).
    """
    if value is None or not value.strip():
        return None
    raw = value.strip()
    if raw.startswith("W/"):
        raw = raw[2:]
    raw = raw.strip('"')
    if not raw.isdigit() or len(raw) > 9:
        raise PreconditionFailed("If-Match must carry the ETag you read, e.g. W/\"3\"")
    return int(raw)
