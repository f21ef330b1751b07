"""Identity use cases: login, token refresh with rotation, logout, user management, and the
per-request authenticator installed on the app."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.config import get_settings
from hms.core import context
from hms.core.auth import Principal
from hms.core.errors import Conflict, NotFound, Unauthorized
from hms.core.pagination import Page, PageParams
from hms.core.permissions import Role, permissions_for
from hms.db.base import utcnow
from hms.identity import tokens
from hms.identity.models import AuthSession, RefreshToken, User
from hms.identity.passwords import dummy_hash, hash_password, verify_password
from hms.identity.repository import UserRepository
from hms.identity.schemas import Me, TokenPair, UserCreate, UserRead, UserUpdate

INVALID_LOGIN = "Incorrect username or password"


async def _issue(
    repo: UserRepository, user: User, auth_session: AuthSession, now: datetime
) -> TokenPair:
    settings = get_settings()
    access_life = timedelta(minutes=settings.access_token_minutes)
    refresh_life = auth_session.expires_at - now
    access, _ = tokens.encode(
        settings, user_id=user.id, session_id=auth_session.id, token_type="access",
        issued_at=now, lifetime=access_life,
    )
    refresh, jti = tokens.encode(
        settings, user_id=user.id, session_id=auth_session.id, token_type="refresh",
        issued_at=now, lifetime=refresh_life,
    )
    await repo.add_refresh_token(
        RefreshToken(jti=jti, session_id=auth_session.id, issued_at=now,
                     expires_at=auth_session.expires_at)
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int(access_life.total_seconds()),
        refresh_expires_in=max(0, int(refresh_life.total_seconds())),
    )


async def login(session: AsyncSession, username: str, password: str) -> TokenPair:
    """Verify credentials and open a session (a new refresh-token family).

    Args:
        username: username or email (case-insensitive).
        password: plain password.

    Returns:
        Access token (``access_token_minutes``, default 30) and refresh token
        (``refresh_token_days``, default 7).

    Raises:
        Unauthorized (401): unknown user, wrong password or deactivated account; the message
            is the same for all three so usernames cannot be probed. The failure is audited.
    """
    repo = UserRepository(session)
    user = await repo.by_login(username)
    if user is None:
        verify_password(password, dummy_hash())
        await audit.record(session, AuditAction.LOGIN_FAILED, "user", None)
        raise Unauthorized(INVALID_LOGIN, commit=True)
    ok, new_hash = verify_password(password, user.password_hash)
    if not ok or not user.is_active:
        await audit.record(session, AuditAction.LOGIN_FAILED, "user", user.id,
                           user_id=user.id, username=user.username)
        raise Unauthorized(INVALID_LOGIN, commit=True)
    now = utcnow()
    if new_hash:
        user.password_hash = new_hash
    user.last_login_at = now
    ctx = context.current()
    auth_session = await repo.add_session(
        AuthSession(
            user_id=user.id,
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(days=get_settings().refresh_token_days),
            ip=ctx.ip,
            user_agent=(ctx.user_agent or "")[:400] or None,
        )
    )
    pair = await _issue(repo, user, auth_session, now)
    await audit.record(session, AuditAction.LOGIN, "session", auth_session.id,
                       user_id=user.id, username=user.username)
    return pair


async def refresh(session: AsyncSession, refresh_token: str) -> TokenPair:
    """Exchange a refresh token for a new pair (rotation).

    A refresh token works once. Presenting an already-used one is treated as theft: the whole
    family (session) is revoked, so the thief's and the owner's tokens all stop working.

    Raises:
        Unauthorized (401): invalid, expired, reused or revoked token, or deactivated user.
    """
    settings = get_settings()
    claims = tokens.decode(settings, refresh_token, "refresh")
    repo = UserRepository(session)
    now = utcnow()
    row = await repo.principal_row(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]))
    stored = await repo.get_refresh_token(claims["jti"])
    if row is None or stored is None or stored.session_id != row[1].id:
        raise Unauthorized("Invalid token")
    user, auth_session = row
    if auth_session.revoked_at is not None or auth_session.expires_at <= now:
        raise Unauthorized("Session revoked or expired")
    if not user.is_active:
        raise Unauthorized("Invalid token")
    if not await repo.mark_refresh_used(stored.jti, now):
        await repo.revoke_session(auth_session.id, now, "refresh_token_reuse")
        await audit.record(session, AuditAction.TOKEN_REUSE, "session", auth_session.id,
                           user_id=user.id, username=user.username)
        raise Unauthorized("Refresh token already used; session revoked", commit=True)
    auth_session.last_used_at = now
    pair = await _issue(repo, user, auth_session, now)
    await audit.record(session, AuditAction.TOKEN_REFRESH, "session", auth_session.id,
                       user_id=user.id, username=user.username)
    return pair


async def logout(session: AsyncSession, principal: Principal) -> None:
    """Revoke the caller's session: its access tokens and whole refresh family stop at once."""
    await UserRepository(session).revoke_session(principal.session_id, utcnow(), "logout")
    await audit.record(session, AuditAction.LOGOUT, "session", principal.session_id)


async def authenticate(session: AsyncSession, token: str) -> Principal:
    """Turn an access token into a :class:`Principal` (installed as ``app.state.authenticator``).

    Raises:
        Unauthorized (401): bad token, revoked or expired session, deactivated user.
    """
    claims = tokens.decode(get_settings(), token, "access")
    row = await UserRepository(session).principal_row(
        uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
    )
    if row is None:
        raise Unauthorized("Invalid token")
    user, auth_session = row
    if not user.is_active:
        raise Unauthorized("Account deactivated")
    if auth_session.revoked_at is not None or auth_session.expires_at <= utcnow():
        raise Unauthorized("Session revoked or expired")
    role = Role(user.role)
    return Principal(
        user_id=user.id,
        username=user.username,
        role=role,
        permissions=permissions_for(role),
        session_id=auth_session.id,
        token_id=str(claims["jti"]),
    )


async def me(session: AsyncSession, principal: Principal) -> Me:
    """The caller's account and permissions."""
    user = await UserRepository(session).get(principal.user_id)
    if user is None:
        raise NotFound("User not found")
    return Me(
        **UserRead.model_validate(user).model_dump(),
        permissions=sorted(p.value for p in principal.permissions),
    )


async def create_user(session: AsyncSession, data: UserCreate) -> UserRead:
    """Create a staff account.

    Raises:
        Conflict (409): username or email already taken.
    """
    repo = UserRepository(session)
    if await repo.by_login(data.username) or (data.email and await repo.by_login(data.email)):
        raise Conflict("Username or email already in use")
    user = User(
        username=data.username,
        email=str(data.email).lower() if data.email else None,
        full_name=data.full_name,
        role=data.role.value,
        is_active=True,
        password_hash=hash_password(data.password),
    )
    try:
        async with session.begin_nested():
            await repo.add(user)
    except IntegrityError as exc:
        raise Conflict("Username or email already in use") from exc
    await audit.record(session, AuditAction.CREATE, "user", user.id,
                       changes={"after": {"username": user.username, "role": user.role}})
    return UserRead.model_validate(user)


async def list_users(
    session: AsyncSession, page: PageParams, *, role: Role | None = None,
    is_active: bool | None = None,
) -> Page[UserRead]:
    """A page of staff accounts ordered by username."""
    rows, total = await UserRepository(session).list(
        offset=page.offset, limit=page.page_size, role=role.value if role else None,
        is_active=is_active,
    )
    return Page[UserRead](
        items=[UserRead.model_validate(u) for u in rows], total=total, page=page.page,
        page_size=page.page_size,
    )


async def update_user(session: AsyncSession, user_id: uuid.UUID, data: UserUpdate) -> UserRead:
    """Change role, active flag, name, email, or reset the password.

    Deactivating a user or resetting the password revokes all of the user's sessions, so
    their tokens stop working at once. A reset password must be changed at next login.

    Raises:
        NotFound (404): no such user.
        Conflict (409): email already used by another account.
    """
    repo = UserRepository(session)
    user = await repo.get(user_id)
    if user is None:
        raise NotFound("User not found")
    before = {"role": user.role, "is_active": user.is_active, "full_name": user.full_name,
              "email": user.email}
    now = utcnow()
    fields = data.model_dump(exclude_unset=True)
    if "email" in fields and data.email is not None:
        other = await repo.by_login(str(data.email))
        if other is not None and other.id != user.id:
            raise Conflict("Email already in use")
        user.email = str(data.email).lower()
    if data.role is not None:
        user.role = data.role.value
    if data.full_name is not None:
        user.full_name = data.full_name
    if data.is_active is not None:
        user.is_active = data.is_active
        if not data.is_active:
            await repo.revoke_all_sessions(user.id, now, "deactivated")
    if data.password is not None:
        user.password_hash = hash_password(data.password)
        user.password_changed_at = now
        user.must_change_password = True
        await repo.revoke_all_sessions(user.id, now, "password_reset")
    after = {"role": user.role, "is_active": user.is_active, "full_name": user.full_name,
             "email": user.email}
    changes = audit.diff(before, after)
    if data.password is not None:
        changes["after"]["password"] = "reset"
    await audit.record(session, AuditAction.UPDATE, "user", user.id, changes=changes)
    await session.flush()
    return UserRead.model_validate(user)


async def ensure_user(
    session: AsyncSession, username: str, password: str, role: Role, full_name: str | None = None
) -> tuple[UserRead, bool]:
    """Create the user if missing (CLI, demo). Returns ``(user, created)``."""
    existing = await UserRepository(session).by_login(username)
    if existing is not None:
        return UserRead.model_validate(existing), False
    return await create_user(
        session, UserCreate(username=username, password=password, role=role, full_name=full_name)
    ), True


async def user_summary(session: AsyncSession, user_id: uuid.UUID) -> UserRead | None:
    """A user by id, for other modules (e.g. a visit's attending physician)."""
    user = await UserRepository(session).get(user_id)
    return UserRead.model_validate(user) if user else None


async def clear_password_change(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Drop the must-change-password flag (demo accounts whose password the CLI prints)."""
    user = await UserRepository(session).get(user_id)
    if user is not None:
        user.must_change_password = False
        await session.flush()
