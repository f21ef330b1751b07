"""Reports fixtures: export jobs run in-process on the test's own transaction.

The app's background jobs open sessions from ``app.state.report_job_sessions`` (see
:mod:`hms.reports.jobs`); here it is bound to the test's rolled-back connection, so a job
sees the data the test seeded and leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


@pytest.fixture
def app(app: FastAPI, connection: AsyncConnection) -> FastAPI:
    """The test app, with export jobs running on the test's connection."""

    @asynccontextmanager
    async def job_sessions() -> AsyncIterator[AsyncSession]:
        async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint",
                                expire_on_commit=False) as s:
            try:
                yield s
                await s.commit()
            except BaseException:
                await s.rollback()
                raise

    app.state.report_job_sessions = job_sessions
    return app
