"""Authentication at the edge: bearer token -> :class:`Principal`, plus permission checks.

``core`` does not know how tokens are verified; the identity module installs an
``Authenticator`` on ``app.state.authenticator`` at start-up.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from hms.core import context
from hms.core.errors import Forbidden, Unauthorized
from hms.core.permissions import Perm, Role
from hms.db.session import get_session


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated staff member making the request."""

    user_id: uuid.UUID
    username: str
    role: Role
    permissions: frozenset[Perm]
    session_id: uuid.UUID
    token_id: str

    def can(self, perm: Perm) -> bool:
        """True when the role grants ``perm``."""
        return perm in self.permissions


Authenticator = Callable[[AsyncSession, str], Awaitable[Principal]]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)

DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def current_principal(
    request: Request,
    session: DbSession,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    """Resolve the bearer token to a :class:`Principal`.

    Raises:
        Unauthorized (401): no token, or the token is invalid, expired or revoked, or the
            user is deactivated.
    """
    if not token:
        raise Unauthorized("Bearer token required")
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator(session, token)
    context.bind_actor(principal.user_id, principal.username)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(perm: Perm) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: the caller must hold ``perm``.

    Raises:
        Unauthorized (401): not authenticated.
        Forbidden (403): the role lacks ``perm``.
    """

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.can(perm):
            raise Forbidden(f"Role '{principal.role}' lacks permission '{perm}'")
        return principal

    dependency.required_permission = perm  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{perm.value.replace(':', '_')}"
    return dependency


def permission_of(dependency: Any) -> Perm | None:
    """The permission a ``require()`` dependency checks, if any (for docs and tests)."""
    return getattr(dependency, "required_permission", None)
