"""HTTP routes of the identity module: ``/api/v1/auth/*`` and ``/api/v1/admin/users``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError

from hms.core.auth import CurrentPrincipal, DbSession, Principal, require
from hms.core.errors import ValidationFailed
from hms.core.pagination import Page, Pagination
from hms.core.permissions import Perm, Role
from hms.core.problems import PROBLEM_RESPONSES, validation_errors
from hms.identity import service
from hms.identity.schemas import (
    LoginRequest,
    Me,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserRead,
    UserUpdate,
)

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
admin_router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

ManageUsers = Annotated[Principal, Depends(require(Perm.USER_MANAGE))]

_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["password"]},
                        "username": {"type": "string", "minLength": 1, "maxLength": 254},
                        "password": {"type": "string", "minLength": 1, "maxLength": 256},
                        "scope": {"type": "string"},
                    },
                }
            },
            "application/json": {"schema": LoginRequest.model_json_schema()},
        },
    }
}


async def _login_body(request: Request) -> LoginRequest:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/json":
            try:
                payload = await request.json()
            except ValueError as exc:
                raise ValidationFailed(
                    "Body is not valid JSON",
                    errors=[{"field": "body", "message": "invalid JSON"}],
                ) from exc
            return LoginRequest.model_validate(payload)
        form = await request.form()
        return LoginRequest.model_validate(
            {"username": form.get("username"), "password": form.get("password")}
        )
    except ValidationError as exc:
        raise ValidationFailed("Invalid login request", errors=validation_errors(exc)) from exc


@auth_router.post(
    "/login",
    summary="Log in (OAuth2 password form or JSON) and get access and refresh tokens",
    response_model=TokenPair,
    openapi_extra=_LOGIN_BODY,
    responses=PROBLEM_RESPONSES,
)
async def login(request: Request, session: DbSession) -> TokenPair:
    body = await _login_body(request)
    return await service.login(session, body.username, body.password)


@auth_router.post(
    "/refresh", summary="Rotate a refresh token", response_model=TokenPair,
    responses=PROBLEM_RESPONSES,
)
async def refresh(body: RefreshRequest, session: DbSession) -> TokenPair:
    return await service.refresh(session, body.refresh_token)


@auth_router.post(
    "/logout", summary="Revoke this access token and its refresh family", status_code=204,
    responses=PROBLEM_RESPONSES,
)
async def logout(principal: CurrentPrincipal, session: DbSession) -> None:
    await service.logout(session, principal)


@auth_router.get("/me", summary="The caller's account", response_model=Me,
                 responses=PROBLEM_RESPONSES)
async def me(principal: CurrentPrincipal, session: DbSession) -> Me:
    return await service.me(session, principal)


@admin_router.get("/users", summary="List staff accounts", response_model=Page[UserRead],
                  responses=PROBLEM_RESPONSES)
async def list_users(
    _: ManageUsers,
    session: DbSession,
    page: Pagination,
    role: Annotated[Role | None, Query()] = None,
    is_active: Annotated[bool | None, Query()] = None,
) -> Page[UserRead]:
    return await service.list_users(session, page, role=role, is_active=is_active)


@admin_router.post("/users", summary="Create a staff account", response_model=UserRead,
                   status_code=201, responses=PROBLEM_RESPONSES)
async def create_user(body: UserCreate, _: ManageUsers, session: DbSession) -> UserRead:
    return await service.create_user(session, body)


@admin_router.put(
    "/users/{user_id}", summary="Change role or active flag, or reset the password",
    response_model=UserRead, responses=PROBLEM_RESPONSES,
)
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, _: ManageUsers, session: DbSession
) -> UserRead:
    return await service.update_user(session, user_id, body)
