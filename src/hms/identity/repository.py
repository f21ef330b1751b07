"""SQL on the identity module's tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hms.identity.models import AuthSession, RefreshToken, User


class UserRepository:
    """Users, sessions and refresh tokens."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        """User by id."""
        return await self.session.get(User, user_id)

    async def by_login(self, login: str) -> User | None:
        """User whose username or email equals ``login`` (case-insensitive)."""
        lowered = login.strip().lower()
        stmt = select(User).where(
            or_(func.lower(User.username) == lowered, func.lower(User.email) == lowered)
        )
        return (await self.session.scalars(stmt)).first()

    async def list(self, *, offset: int, limit: int, role: str | None,
                   is_active: bool | None) -> tuple[list[User], int]:
        """A page of users ordered by username, and the total."""
        stmt = select(User)
        if role:
            stmt = stmt.where(User.role == role)
        if is_active is not None:
            stmt = stmt.where(User.is_active == is_active)
        total = await self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = await self.session.scalars(stmt.order_by(User.username).offset(offset).limit(limit))
        return list(rows), int(total or 0)

    async def add(self, user: User) -> User:
        """Insert a user."""
        self.session.add(user)
        await self.session.flush()
        return user

    async def principal_row(
        self, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> tuple[User, AuthSession] | None:
        """User and session in one query, for per-request authentication."""
        stmt = (
            select(User, AuthSession)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(User.id == user_id, AuthSession.id == session_id)
        )
        row = (await self.session.execute(stmt)).first()
        return (row[0], row[1]) if row else None

    async def add_session(self, auth_session: AuthSession) -> AuthSession:
        """Insert a login session."""
        self.session.add(auth_session)
        await self.session.flush()
        return auth_session

    async def add_refresh_token(self, token: RefreshToken) -> None:
        """Insert an issued refresh token."""
        self.session.add(token)
        await self.session.flush()

    async def get_refresh_token(self, jti: str) -> RefreshToken | None:
        """Refresh token by jti."""
        return await self.session.get(RefreshToken, jti)

    async def mark_refresh_used(self, jti: str, now: datetime) -> bool:
        """Atomically mark an unused token used; False when it was already used (reuse)."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.jti == jti, RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
        return (result.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def revoke_session(self, session_id: uuid.UUID, now: datetime, reason: str) -> None:
        """Revoke one refresh family (idempotent)."""
        await self.session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )

    async def revoke_all_sessions(self, user_id: uuid.UUID, now: datetime, reason: str) -> None:
        """Revoke every live session of a user."""
        await self.session.execute(
            update(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
