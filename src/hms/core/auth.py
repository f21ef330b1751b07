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
from hms.core.permissions import SCOPABLE, Perm, Role, Scope, format_grant
from hms.core.scoping import RowScope
from hms.db.session import get_session
from hms.db.session import read_only as read_only  # for routers: @read_only
from hms.db.session import request_session as request_session  # for routers
from hms.db.session import sessionless_reads as sessionless_reads  # for routers


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated staff member making the request."""

    user_id: uuid.UUID
    username: str
    role: Role
    permissions: frozenset[Perm]
    session_id: uuid.UUID
    token_id: str
    #: Why this session may only use its own account routes, or None for a full session:
    #: ``password_change_required`` (expired or admin-reset password) or
    #: ``mfa_enrollment_required`` (the role must use MFA and has none). Decided on every
    #: request from the user row, so changing the password or enrolling lifts it at once.
    restriction: str | None = None
    #: The user's department (compared case-insensitively), for ``:department`` scopes.
    department: str | None = None
    #: ``(permission, scope)`` pairs of the role's scopable permissions (seed 003 4.3). A
    #: held scopable permission with no pair here counts as ``all``.
    scopes: frozenset[tuple[Perm, Scope]] = frozenset()

    def can(self, perm: Perm) -> bool:
        """True when the role grants ``perm`` (at any scope)."""
        return perm in self.permissions

    def scopes_of(self, perm: Perm) -> frozenset[Scope]:
        """Every scope the role holds ``perm`` at; empty when it lacks ``perm``."""
        if perm not in self.permissions:
            return frozenset()
        held = frozenset(s for p, s in self.scopes if p == perm)
        return held or frozenset({Scope.ALL})

    def scope_of(self, perm: Perm) -> Scope | None:
        """The broadest scope the role holds ``perm`` at (``all`` > ``department`` >
        ``own``), or None without ``perm``."""
        held = self.scopes_of(perm)
        for scope in (Scope.ALL, Scope.DEPARTMENT, Scope.OWN):
            if scope in held:
                return scope
        return None

    def row_scope(self, perm: Perm) -> RowScope:
        """The rows ``perm`` reaches, for scoped repository queries."""
        return RowScope(levels=self.scopes_of(perm), user_id=self.user_id,
                        department=self.department)

    @property
    def grants(self) -> list[str]:
        """The role's permission strings, e.g. ``visit:read:department``, sorted."""
        return sorted(format_grant(p, s) for p in self.permissions for s in (
            self.scopes_of(p) if p in SCOPABLE else (Scope.ALL,)))


Authenticator = Callable[[AsyncSession, str], Awaitable[Principal]]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)

DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


_RESTRICTION_DETAIL = {
    "password_change_required": (
        "Your password has expired or was reset: change it with POST "
        "/api/v1/auth/change-password before using other routes"),
    "mfa_enrollment_required": (
        "Your role requires multi-factor authentication: enrol with POST "
        "/api/v1/auth/mfa/enroll and /api/v1/auth/mfa/confirm before using other routes"),
}


class SessionRestricted(Forbidden):
    """403 with ``code`` = the session's restriction (``password_change_required`` or
    ``mfa_enrollment_required``): only the caller's own account routes answer."""

    def __init__(self, restriction: str) -> None:
        super().__init__(_RESTRICTION_DETAIL.get(restriction, "This session is restricted"))
        self.code = restriction


#: ``scope`` key holding the request's :class:`Principal` once resolved: a route whose
#: dependencies ask for the caller more than once (two ``require()`` checks) authenticates
#: it once.
_PRINCIPAL = "hms.principal"

#: The request's bearer token or None (a route that calls :func:`authorize` itself takes
#: it as a parameter).
Token = Annotated[str | None, Depends(oauth2_scheme)]


async def _authenticated(request: Request, session: AsyncSession, token: str | None
                         ) -> Principal:
    """The request's principal, resolved once per request (see :func:`session_principal`)."""
    principal: Principal | None = request.scope.get(_PRINCIPAL)
    if principal is not None:
        return principal
    if not token:
        raise Unauthorized("Bearer token required")
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator(session, token)
    context.bind_actor(principal.user_id, principal.username)
    request.scope[_PRINCIPAL] = principal
    return principal


def _unrestricted(principal: Principal) -> Principal:
    if principal.restriction:
        raise SessionRestricted(principal.restriction)
    return principal


async def session_principal(request: Request, session: DbSession, token: Token) -> Principal:
    """Resolve the bearer token to a :class:`Principal`, restricted sessions included.

    Only the caller's own account routes use this directly (``/auth/me``,
    ``/auth/change-password``, ``/auth/logout``, ``/auth/logout-all``, ``/auth/mfa/*``);
    every other route goes through :func:`current_principal` or :func:`require`.

    Raises:
        Unauthorized (401): no token, or the token is invalid, expired or revoked, or the
            user is deactivated.
    """
    return await _authenticated(request, session, token)


SessionPrincipal = Annotated[Principal, Depends(session_principal)]


async def current_principal(request: Request, session: DbSession, token: Token) -> Principal:
    """The authenticated caller, refused while the session is restricted.

    One dependency, not a chain over :func:`session_principal`: each level of a dependency
    chain costs FastAPI a resolution on every request (issue 5 profile).

    Raises:
        Unauthorized (401): see :func:`session_principal`.
        SessionRestricted (403): code ``password_change_required`` or
            ``mfa_enrollment_required`` until the caller fixes it.
    """
    return _unrestricted(await _authenticated(request, session, token))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def _permitted(principal: Principal, perm: Perm) -> Principal:
    if not principal.can(perm):
        raise Forbidden(f"Role '{principal.role}' lacks permission '{perm}'")
    return principal


async def authorize(request: Request, token: str | None, perm: Perm,
                    session: AsyncSession | None = None) -> Principal:
    """As a :func:`require` dependency, called by a route that declares no session: the
    caller, unrestricted and holding ``perm``, resolved once per request. The
    authenticator reads the database only on a principal cache miss (or with no cache, as
    on SQLite), through ``session`` or else a :func:`request_session` of its own; a hit
    costs no session and no connection.

    Args:
        token: the route's :data:`Token` parameter (the dependency also puts the bearer
            scheme on the route's OpenAPI operation).
        session: the request's session, when the route has one open.

    Raises:
        Unauthorized (401), SessionRestricted (403), Forbidden (403): as :func:`require`.
    """
    principal: Principal | None = request.scope.get(_PRINCIPAL)
    if principal is None:
        if not token:
            raise Unauthorized("Bearer token required")
        lookup = getattr(request.app.state.authenticator, "cached", None)
        principal = lookup(token) if lookup is not None else None
        if principal is None:
            if session is not None:
                principal = await _authenticated(request, session, token)
            else:
                async with request_session(request) as own:
                    principal = await _authenticated(request, own, token)
        else:
            context.bind_actor(principal.user_id, principal.username)
            request.scope[_PRINCIPAL] = principal
    return _permitted(_unrestricted(principal), perm)


def require(perm: Perm) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: the caller must hold ``perm``.

    The dependency authenticates the caller itself (as :func:`current_principal` does)
    rather than depending on it: one resolution per request instead of three.

    Raises:
        Unauthorized (401): not authenticated.
        SessionRestricted (403): the session is restricted (see :func:`current_principal`).
        Forbidden (403): the role lacks ``perm``.
    """

    async def dependency(request: Request, session: DbSession, token: Token) -> Principal:
        return _permitted(_unrestricted(await _authenticated(request, session, token)), perm)

    dependency.required_permission = perm  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{perm.value.replace(':', '_')}"
    return dependency


def permission_of(dependency: Any) -> Perm | None:
    """The permission a ``require()`` dependency checks, if any (for docs and tests)."""
    return getattr(dependency, "required_permission", None)
