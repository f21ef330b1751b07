"""The request session commits after the handler; a failed commit is a 5xx, never a 2xx."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from hms.audit.models import AuditEvent
from hms.core.auth import DbSession
from hms.main import create_app


async def test_failed_commit_returns_5xx_and_keeps_nothing(db, settings):
    app: FastAPI = create_app(settings, db=db)
    marker = uuid.uuid4().hex[:16]

    @app.post("/_test/broken-commit")
    async def broken(session: DbSession) -> dict[str, str]:
        # A row whose foreign key points nowhere: it fails only when the session commits.
        session.add(AuditEvent(user_id=uuid.uuid4(), action="create", entity_type="test",
                               entity_id=marker))
        return {"status": "ok"}

    async with AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False),
                           base_url="http://testserver") as client:
        resp = await client.post("/_test/broken-commit")
    assert resp.status_code >= 500
    from sqlalchemy import select

    async with db.sessionmaker() as s:
        found = await s.scalar(select(AuditEvent.id).where(AuditEvent.entity_id == marker))
    assert found is None
