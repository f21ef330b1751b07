"""Pydantic schemas of the identity module."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from hms.core.permissions import Role

Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=150,
                           pattern=r"^[A-Za-z0-9_.@+-]+$")
]
# Length and content rules come from the password policy (settings; 422 naming each broken
# rule), so the schema only bounds the size. NIST SP 800-63B 5.1.1.2: accept at least 64.
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
OneTimeCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=64)]
SessionRestriction = Literal["password_change_required", "mfa_enrollment_required"]
#: A user's department, as visits name it (e.g. "Radiology"); compared case-insensitively.
Department = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
#: A first or last name (seed 004 users.first_name / last_name).
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
#: A phone number: digits with an optional leading +, spaces, dots, dashes, parentheses
#: (seed 004 12 "Phone numbers should follow consistent format").
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=32,
                                         pattern=r"^\+?[0-9 ().-]{3,32}$")]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255,
                                            pattern=r"^[^\x00-\x1f\x7f]*$")]


class LoginRequest(BaseModel):
    """JSON login body (the OAuth2 form with the same fields is accepted too)."""

    model_config = ConfigDict(populate_by_name=True)

    username: Annotated[str, StringConstraints(min_length=1, max_length=254)] = Field(
        validation_alias=AliasChoices("username", "email"),
        description="Username or email (case-insensitive); seed 004 clients may send "
                    "'email' instead")
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    otp: OneTimeCode | None = Field(
        default=None,
        description="TOTP code or recovery code, required when the account has MFA (OAuth2 "
                    "form clients may send it as client_secret)",
    )


class RefreshRequest(BaseModel):
    """Body of ``POST /auth/refresh``."""

    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class TokenPair(BaseModel):
    """Tokens returned by login and refresh (OAuth2 token response shape)."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Access token lifetime in seconds")
    refresh_expires_in: int = Field(description="Refresh token lifetime in seconds")
    session_restriction: SessionRestriction | None = Field(
        default=None,
        description="Set when the session may only use its own account routes until the "
                    "password is changed or MFA enrolled (other routes answer 403 with this "
                    "code)",
    )


class UserCreate(BaseModel):
    """Body of ``POST /users`` (and its alias ``POST /admin/users``).

    Seed 004 accounts have an ``email`` and no username: when ``username`` is absent it is
    the lowercased email. ``role`` accepts the unified names and seed 004 labels in any case
    (``DOCTOR``, ``administrator``, ``BILLING_OFFICER``...). ``department_id`` (seed 004)
    or ``department`` (a department name) assign the department.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    username: Username | None = None
    email: EmailStr | None = None
    password: Password
    role: Role
    first_name: PersonName | None = None
    last_name: PersonName | None = None
    full_name: FullName | None = None
    phone: Phone | None = None
    department_id: uuid.UUID | None = None
    department: Department | None = Field(
        default=None, description="Department name for :department permission scopes; "
                                  "set from department_id when that is given")

    @model_validator(mode="after")
    def _username_or_email(self) -> UserCreate:
        if self.username is None and self.email is None:
            raise ValueError("username or email is required")
        return self


class UserUpdate(BaseModel):
    """Body of ``PUT /users/{id}`` (alias ``PUT /admin/users/{user_id}``); every field
    optional. ``department_id: null`` (or ``department: null``) clears the department."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    role: Role | None = None
    is_active: bool | None = None
    password: Password | None = Field(
        default=None, description="Admin password reset; the user must change it at next login"
    )
    full_name: FullName | None = None
    first_name: PersonName | None = None
    last_name: PersonName | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    department_id: uuid.UUID | None = None
    department: Department | None = Field(
        default=None, description="Department for :department permission scopes; null clears")
    unlock: bool | None = Field(
        default=None, description="True ends a lockout and clears the failed-login counter")
    reset_mfa: bool | None = Field(
        default=None,
        description="True removes the user's MFA (lost device); a role that requires MFA "
                    "must enrol again at next login",
    )


class UserRead(BaseModel):
    """A staff account as returned by the API (never the hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    email: str | None
    full_name: str | None
    role: Role
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    department_id: uuid.UUID | None = None
    department: str | None = None
    is_active: bool
    # Account-security state: shown to user managers only; null in the staff directory.
    must_change_password: bool | None
    mfa_enabled: bool | None = False
    locked_until: datetime | None = None
    created_at: datetime
    updated_at: datetime | None = None
    last_login_at: datetime | None

    def directory_view(self) -> Self:
        """This account as the staff directory shows it to staff without ``user:manage``
        (seed 004 ``GET /users`` for booking and routing): names, role, department, contact,
        active flag; the security state (password change due, MFA, lockout, last login) is
        null (HIPAA minimum necessary, 45 CFR 164.502(b))."""
        return self.model_copy(update={"must_change_password": None, "mfa_enabled": None,
                                       "locked_until": None, "last_login_at": None})


class UserDepartment(BaseModel):
    """The department embedded in ``GET /users/{id}/details``."""

    id: uuid.UUID
    name: str
    description: str | None


class UserDetails(UserRead):
    """A user with its department loaded (seed 004 ``GET /users/{id}/details``)."""

    department_detail: UserDepartment | None = Field(
        default=None, description="The department of department_id (null when none)")


class UserSort(StrEnum):
    """Sort keys of ``GET /users``."""

    USERNAME = "username"
    EMAIL = "email"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    ROLE = "role"
    CREATED_AT = "created_at"
    LAST_LOGIN_AT = "last_login_at"


class Me(UserRead):
    """The caller's own account plus the permissions its role grants."""

    permissions: list[str]
    session_restriction: SessionRestriction | None = None
    password_expires_at: datetime | None = Field(
        default=None, description="When the password expires (None: expiry disabled)")


class ChangePasswordRequest(BaseModel):
    """Body of ``POST /auth/change-password``."""

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    new_password: Password


class MfaEnrollment(BaseModel):
    """A pending TOTP enrolment: add it to an authenticator app, then confirm a code."""

    secret: str = Field(description="Base32 TOTP secret (RFC 4648), for manual entry")
    otpauth_uri: str = Field(description="otpauth://totp/... URI, usually shown as a QR code")
    issuer: str
    digits: int = 6
    period: int = Field(default=30, description="Time step in seconds")
    algorithm: str = "SHA1"


class MfaCode(BaseModel):
    """Body of ``POST /auth/mfa/confirm``: a current TOTP code."""

    code: OneTimeCode


class MfaRecoveryCodes(BaseModel):
    """Recovery codes shown once at activation; each works once instead of a TOTP code."""

    recovery_codes: list[str]


class MfaDisableRequest(BaseModel):
    """Body of ``POST /auth/mfa/disable``: a current TOTP or recovery code, or the password."""

    code: OneTimeCode | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


class SessionRead(BaseModel):
    """One of the caller's live login sessions (a refresh-token family)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime = Field(description="Login or last token refresh")
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool = Field(default=False, description="The session of this request's token")


class RoleRead(BaseModel):
    """A role and its permission strings ``resource:action[:scope]`` (seed 003 4.3)."""

    name: Role
    description: str | None
    is_system: bool
    permissions: list[str] = Field(description="Sorted; scopable permissions carry their scope")
    updated_at: datetime


class RolePermissionsUpdate(BaseModel):
    """Body of ``PUT /admin/roles/{name}/permissions``: the role's complete new list."""

    permissions: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                       max_length=100)]] = Field(
        max_length=200,
        description="resource:action or resource:action:scope (own, department, all); "
                    "replaces the role's list",
        examples=[["visit:read:department", "patient:read:department", "form:read"]],
    )
