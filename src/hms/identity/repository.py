"""SQL on the identity module's tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hms.identity.models import (
    AuthSession,
    MfaRecoveryCode,
    RefreshToken,
    RoleDefinition,
    RolePermission,
    User,
)


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
                   is_active: bool | None, department_id: uuid.UUID | None = None,
                   q: str | None = None,
                   order: Sequence[tuple[str, bool]] = (("username", False),),
                   ) -> tuple[list[User], int]:
        """A page of users and the total. ``q`` matches part of the username, email, full,
        first or last name (case-insensitive); ``order`` is ``(column, descending)`` pairs
        (the id breaks ties)."""
        stmt = select(User)
        if role:
            stmt = stmt.where(User.role == role)
        if is_active is not None:
            stmt = stmt.where(User.is_active == is_active)
        if department_id is not None:
            stmt = stmt.where(User.department_id == department_id)
        if q:
            pattern = "%" + (q.lower().replace("\\", "\\\\").replace("%", "\\%")
                             .replace("_", "\\_")) + "%"
            stmt = stmt.where(or_(*(func.lower(c).like(pattern, escape="\\") for c in (
                User.username, User.email, User.full_name, User.first_name, User.last_name))))
        total = await self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        columns = [getattr(User, key).desc() if desc else getattr(User, key).asc()
                   for key, desc in order]
        rows = await self.session.scalars(
            stmt.order_by(*columns, User.id).offset(offset).limit(limit))
        return list(rows), int(total or 0)

    async def by_ids(self, ids: set[uuid.UUID]) -> Sequence[User]:
        """Users whose id is in ``ids`` (one query; none for an empty set)."""
        if not ids:
            return []
        return (await self.session.scalars(select(User).where(User.id.in_(ids)))).all()

    async def rename_department(self, department_id: uuid.UUID, name: str) -> None:
        """Copy a department's new name to its users' ``department`` column."""
        await self.session.execute(
            update(User).where(User.department_id == department_id).values(department=name))

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

    async def revoke_all_sessions(
        self, user_id: uuid.UUID, now: datetime, reason: str, *,
        keep: uuid.UUID | None = None,
    ) -> int:
        """Revoke every live session of a user (but ``keep``, when given); returns how many."""
        stmt = (
            update(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        if keep is not None:
            stmt = stmt.where(AuthSession.id != keep)
        result = await self.session.execute(stmt)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def get_auth_session(self, session_id: uuid.UUID) -> AuthSession | None:
        """Login session by id."""
        return await self.session.get(AuthSession, session_id)

    async def live_sessions(
        self, user_id: uuid.UUID, now: datetime, *, offset: int, limit: int
    ) -> tuple[Sequence[AuthSession], int]:
        """A user's unrevoked, unexpired sessions, most recently used first, and the total."""
        stmt = select(AuthSession).where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
        total = await self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = await self.session.scalars(
            stmt.order_by(AuthSession.last_used_at.desc(), AuthSession.id)
            .offset(offset).limit(limit)
        )
        return list(rows), int(total or 0)

    # -- lockout ---------------------------------------------------------------------------

    async def register_failure(self, user_id: uuid.UUID) -> int:
        """Add one failed login in the database itself (``SET n = n + 1``, so concurrent
        failures all count) and return the new count."""
        result = await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(failed_login_count=User.failed_login_count + 1)
            .returning(User.failed_login_count)
        )
        return int(result.scalar_one())

    async def reset_failures(self, user_id: uuid.UUID) -> None:
        """Clear the failure count and any lock (successful login, admin unlock)."""
        await self.session.execute(
            update(User)
            .where(User.id == user_id,
                   or_(User.failed_login_count != 0, User.locked_until.is_not(None)))
            .values(failed_login_count=0, locked_until=None)
        )

    async def lock(self, user_id: uuid.UUID, until: datetime) -> None:
        """Lock logins until ``until`` and start the failure count afresh."""
        await self.session.execute(
            update(User).where(User.id == user_id)
            .values(locked_until=until, failed_login_count=0)
        )

    # -- MFA -------------------------------------------------------------------------------

    async def claim_totp_step(self, user_id: uuid.UUID, step: int) -> bool:
        """Record ``step`` as the last accepted TOTP time step, only if it is newer than the
        stored one; False means the code (or an older one) was already used (replay)."""
        result = await self.session.execute(
            update(User)
            .where(User.id == user_id,
                   or_(User.mfa_last_step.is_(None), User.mfa_last_step < step))
            .values(mfa_last_step=step)
        )
        return (result.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def replace_recovery_codes(
        self, user_id: uuid.UUID, code_hashes: Sequence[str], now: datetime
    ) -> None:
        """Drop a user's recovery codes and store ``code_hashes`` as the new set."""
        await self.delete_recovery_codes(user_id)
        self.session.add_all(
            MfaRecoveryCode(user_id=user_id, code_hash=h, created_at=now) for h in code_hashes
        )
        await self.session.flush()

    async def delete_recovery_codes(self, user_id: uuid.UUID) -> None:
        """Remove every recovery code of a user."""
        await self.session.execute(
            delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))

    async def use_recovery_code(self, user_id: uuid.UUID, code_hash: str, now: datetime
                                ) -> bool:
        """Mark an unused recovery code used, atomically; False when none matches."""
        result = await self.session.execute(
            update(MfaRecoveryCode)
            .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.code_hash == code_hash,
                   MfaRecoveryCode.used_at.is_(None))
            .values(used_at=now)
        )
        return (result.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def unused_recovery_codes(self, user_id: uuid.UUID) -> int:
        """How many recovery codes of a user are still unused."""
        return int(await self.session.scalar(
            select(func.count()).select_from(MfaRecoveryCode)
            .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))
        ) or 0)



# -- roles (roles are data: ``roles``, ``role_permissions``) --------------------------------


class RoleRepository:
    """Roles and their permission strings."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def principal_row(
        self, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> tuple[User, AuthSession, str | None] | None:
        """User, login session and the role's permissions revision in one query (the
        per-request authentication); the revision is None when the role row is missing."""
        stmt = (
            select(User, AuthSession, RoleDefinition.permissions_revision)
            .join(AuthSession, AuthSession.user_id == User.id)
            .outerjoin(RoleDefinition, RoleDefinition.name == User.role)
            .where(User.id == user_id, AuthSession.id == session_id)
        )
        row = (await self.session.execute(stmt)).first()
        return (row[0], row[1], row[2]) if row else None

    async def grants(self, role: str) -> list[str]:
        """The permission strings of ``role``, sorted."""
        stmt = (select(RolePermission.permission).where(RolePermission.role == role)
                .order_by(RolePermission.permission))
        return list(await self.session.scalars(stmt))

    async def get(self, name: str, *, for_update: bool = False) -> RoleDefinition | None:
        """Role by name (optionally locking the row on PostgreSQL)."""
        stmt = select(RoleDefinition).where(RoleDefinition.name == name)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def all_with_grants(self) -> list[tuple[RoleDefinition, list[str]]]:
        """Every role by name, each with its sorted permission strings (two queries)."""
        roles = list(await self.session.scalars(
            select(RoleDefinition).order_by(RoleDefinition.name)))
        grants: dict[str, list[str]] = {r.name: [] for r in roles}
        rows = await self.session.execute(
            select(RolePermission.role, RolePermission.permission)
            .order_by(RolePermission.role, RolePermission.permission))
        for role, permission in rows:
            grants.setdefault(role, []).append(permission)
        return [(r, grants[r.name]) for r in roles]

    async def replace_grants(self, role: RoleDefinition, grants: list[str], *,
                             revision: str, now: datetime) -> None:
        """Make ``grants`` the role's whole permission list and stamp a new revision."""
        await self.session.execute(delete(RolePermission).where(RolePermission.role == role.name))
        self.session.add_all(RolePermission(role=role.name, permission=g) for g in grants)
        role.permissions_revision = revision
        role.updated_at = now
        await self.session.flush()
