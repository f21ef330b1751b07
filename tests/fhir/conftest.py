"""Fixtures for the FHIR import: it commits one transaction per file, so these tests use the
real database (``db``) and wipe every table before and after, like ``committed_app``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hms.db.session import Database
from hms.fhir.schemas import ImportReport
from hms.fhir.service import demo_bundle_dir, import_paths
from tests.fhir.factories import wipe


@pytest.fixture
async def clean_db(db: Database) -> AsyncIterator[Database]:
    """The worker's database, empty before and after the test (real commits)."""
    await wipe(db)
    yield db
    await wipe(db)


@pytest.fixture(scope="module")
async def demo_import(db: Database) -> AsyncIterator[tuple[Database, ImportReport]]:
    """The repository's demo bundles imported once for the module; wiped afterwards."""
    await wipe(db)
    report = await import_paths(db, [demo_bundle_dir()])
    yield db, report
    await wipe(db)
