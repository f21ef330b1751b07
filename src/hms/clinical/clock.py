"""The clinical module's clock (one place for tests to move time: monkeypatch ``now``)."""

from __future__ import annotations

from datetime import date, datetime

from hms.db.base import utcnow


def now() -> datetime:
    """Current instant, timezone-aware UTC."""
    return utcnow()


def today() -> date:
    """Current date in UTC."""
    return now().date()
