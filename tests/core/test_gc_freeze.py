"""A server process freezes its start-up heap, so full garbage collections stay short."""

from __future__ import annotations

import gc
import time

import pytest

from hms.config import Settings
from hms.core.serving import freeze_startup_heap
from hms.main import create_app


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_full_collection_skips_the_frozen_start_up_objects(unfrozen) -> None:
    create_app()  # imports every router, model and schema, as a worker does
    gc.collect()
    start = time.perf_counter()
    gc.collect()
    before = time.perf_counter() - start
    frozen = freeze_startup_heap()
    start = time.perf_counter()
    gc.collect()
    after = time.perf_counter() - start
    assert frozen > 50_000  # the imported application, not a handful of objects
    assert after < before / 5, (before, after)


async def test_the_app_freezes_at_start_up_unless_told_not_to(
        unfrozen, settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
    gc.unfreeze()
    app = create_app(settings.model_copy(update={"gc_freeze": False}))
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == 0
