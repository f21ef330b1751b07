"""Pydantic schemas of the identity module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from hms.core.permissions import Role

Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=150,
                           pattern=r"^[A-Za-z0-9_.@+-]+$")
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]


class LoginRequest(BaseModel):
    """JSON login body (the OAuth2 form with the same fields is accepted too)."""

    username: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


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


class UserCreate(BaseModel):
    """Body of ``POST /admin/users``."""

    username: Username
    password: Password
    role: Role
    full_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] | None = (
        None
    )
    email: EmailStr | None = None


class UserUpdate(BaseModel):
    """Body of ``PUT /admin/users/{user_id}``; every field optional."""

    role: Role | None = None
    is_active: bool | None = None
    password: Password | None = Field(
        default=None, description="Admin password reset; the user must change it at next login"
    )
    full_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] | None = (
        None
    )
    email: EmailStr | None = None


class UserRead(BaseModel):
    """A staff account as returned by the API (never the hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    email: str | None
    full_name: str | None
    role: Role
    is_active: bool
    must_change_password: bool
    created_at: datetime
    last_login_at: datetime | None


class Me(UserRead):
    """The caller's own account plus the permissions its role grants."""

    permissions: list[str]
