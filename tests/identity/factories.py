"""Builders for staff accounts and logged-in clients."""

from __future__ import annotations

import itertools
import uuid
from functools import lru_cache
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hms.core.permissions import Role
from hms.identity import service
from hms.identity.models import User
from hms.identity.passwords import hash_password
from hms.identity.schemas import UserCreate, UserRead

PASSWORD = "Correct-Horse-42!"
_seq = itertools.count(1)


@lru_cache
def _hash(password: str) -> str:
    return hash_password(password)


async def make_user(
    session: AsyncSession, role: Role = Role.NURSE, *, username: str | None = None,
    password: str = PASSWORD, **overrides: object,
) -> UserRead:
    """Create a user (committed to the test's savepoint). Synthetic data only."""
    username = username or f"{role.value}{next(_seq)}"
    user = await service.create_user(
        session, UserCreate(username=username, password=password, role=role, **overrides)
    )
    await session.commit()
    return user


async def make_doctor(session: AsyncSession, **overrides: object) -> UserRead:
    """An active physician account (seed 004 "doctor"); overrides as :func:`make_user`
    (e.g. ``department_id``, ``first_name``)."""
    n = next(_seq)
    values: dict[str, object] = {"first_name": "Dana", "last_name": f"Doctor{n}",
                                 "username": f"doctor{n}"}
    values.update(overrides)
    return await make_user(session, Role.PHYSICIAN, **values)  # type: ignore[arg-type]


async def login(client: AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Log in over HTTP; returns the token pair."""
    resp = await client.post("/api/v1/auth/login",
                             data={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return resp.json()


async def auth_headers(client: AsyncClient, session: AsyncSession, role: Role
                       ) -> dict[str, str]:
    """Create a user of ``role``, log in for real, return the Authorization header."""
    user = await make_user(session, role)
    tokens = await login(client, user.username)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def set_user_columns(session: AsyncSession, user_id: uuid.UUID, **values: Any) -> None:
    """Write columns of a user row directly (to move a lock or a password age in time)."""
    await session.execute(update(User).where(User.id == user_id).values(**values))
    await session.commit()
    session.expire_all()


async def user_columns(session: AsyncSession, user_id: uuid.UUID, *names: str
                       ) -> dict[str, Any]:
    """Current values of some columns of a user row, read fresh from the database."""
    session.expire_all()
    row = (await session.execute(
        select(*(getattr(User, n) for n in names)).where(User.id == user_id))).one()
    return dict(zip(names, row, strict=True))


__all__ = ["PASSWORD", "_hash", "auth_headers", "login", "make_doctor", "make_user",
           "set_user_columns", "user_columns"]
