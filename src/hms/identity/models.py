"""ORM classes of the identity module (private)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from hms.db.base import Base, TimestampMixin, new_id, utcnow


class User(TimestampMixin, Base):
    """A staff account [FHIR Practitioner]."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(255))
    # The role's name; roles are data (``roles``). PostgreSQL enforces the foreign key;
    # on SQLite (no ALTER TABLE ADD CONSTRAINT) the Role enum of the schemas does.
    role: Mapped[str] = mapped_column(String(40), ForeignKey("roles.name"), index=True)
    #: Department the user works in; ``:department`` scopes compare it, case-insensitively,
    #: with a visit's department.
    department: Mapped[str | None] = mapped_column(String(100), index=True)
    #: Seed 004 ``department_id`` (FK departments, no cascade). ``department`` above is
    #: kept equal to that department's name, because row scoping compares the name.
    department_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("departments.id"), index=True)
    #: Seed 004 profile fields; ``full_name`` is kept as "first last" when both are set.
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column()
    # Lockout (seed 003 NFR-SEC-001): consecutive failed logins, and the end of a lock.
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0,
                                                    server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column()
    # TOTP MFA (RFC 6238): the secret AES-GCM sealed (hms.identity.mfa), set at enrolment;
    # active once confirmed (mfa_enabled_at); the last accepted time step refuses replays.
    mfa_secret: Mapped[str | None] = mapped_column(String(255))
    mfa_enabled_at: Mapped[datetime | None] = mapped_column()
    mfa_last_step: Mapped[int | None] = mapped_column(Integer)

    @property
    def mfa_enabled(self) -> bool:
        """True once an enrolment has been confirmed."""
        return self.mfa_enabled_at is not None


class AuthSession(Base):
    """A login session = one refresh-token family (HMS seed ``sessions``)."""

    __tablename__ = "sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))


class RefreshToken(Base):
    """One issued refresh token; ``used_at`` set when it is exchanged (rotation)."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class MfaRecoveryCode(Base):
    """One one-time MFA recovery code, stored as a keyed hash (hms.identity.mfa)."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (Index("ix_mfa_recovery_codes_user_id_code_hash", "user_id", "code_hash"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column()


class RoleDefinition(Base):
    """A role: a named bundle of permission strings (seed 003 ``roles``). The names are the
    :class:`hms.core.permissions.Role` values; the bundles are data an admin can change."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(400))
    is_system: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Random token replaced at every change of the role's permissions; the per-process
    #: permission cache is keyed by it, so a change is seen by every worker at its next
    #: request (and a rolled-back change never is).
    permissions_revision: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RolePermission(Base):
    """One permission string ``resource:action[:scope]`` granted to a role."""

    __tablename__ = "role_permissions"

    role: Mapped[str] = mapped_column(
        String(40), ForeignKey("roles.name", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(100), primary_key=True)


class CataloguedPermission(Base):
    """A ``resource:action`` this database knows. A permission the code adds later is not
    here yet: ``hms migrate`` then grants it once to the roles whose default bundle has it
    (:func:`hms.identity.roles.sync_permission_catalogue`); after that it is data."""

    __tablename__ = "permission_catalogue"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
