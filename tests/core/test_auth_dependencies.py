"""The authentication dependencies (hms.core.auth): a route that asks for the caller
several times (``require()`` checks and ``CurrentPrincipal`` side by side) authenticates
the token once, gets one principal, and still refuses what any one check refuses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from hms.core.auth import CurrentPrincipal, Principal, require
from hms.core.permissions import Perm, Role
from tests.identity.factories import auth_headers

PATH = "/api/v1/test-only/two-checks"


def _add_route(app) -> list[str]:
    """Mount a route needing ``patient:read`` and ``audit:read`` plus the bare caller, and
    count the authenticator's calls."""
    calls: list[str] = []
    inner = app.state.authenticator

    async def counting(session, token):
        calls.append(token)
        return await inner(session, token)

    app.state.authenticator = counting

    async def two_checks(
        reader: Annotated[Principal, Depends(require(Perm.PATIENT_READ))],
        auditor: Annotated[Principal, Depends(require(Perm.AUDIT_READ))],
        caller: CurrentPrincipal,
    ) -> dict[str, object]:
        return {"same": reader is auditor is caller, "role": caller.role}

    app.add_api_route(PATH, two_checks, methods=["GET"])
    return calls


async def test_the_token_is_authenticated_once_for_every_check(app, client, session):
    calls = _add_route(app)
    headers = await auth_headers(client, session, Role.ADMIN)
    calls.clear()  # logging in does not count

    response = await client.get(PATH, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"same": True, "role": "admin"}
    assert len(calls) == 1


async def test_any_one_missing_permission_is_refused(app, client, session):
    _add_route(app)
    headers = await auth_headers(client, session, Role.NURSE)  # patient:read, no audit:read

    response = await client.get(PATH, headers=headers)

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "audit:read" in response.json()["detail"]


async def test_no_token_is_refused_once(app, client):
    calls = _add_route(app)

    response = await client.get(PATH)

    assert response.status_code == 401
    assert calls == []
