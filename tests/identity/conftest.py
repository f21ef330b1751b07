"""Fixtures of the identity tests."""

from __future__ import annotations

import pytest

from hms.config import Settings, get_settings


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    """The settings object the services read right now: other tests may rebuild the
    ``get_settings`` cache, so monkeypatch this one rather than the session's ``settings``."""
    return get_settings()
