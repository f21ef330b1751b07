"""HTTP routes of the identity module: ``/api/v1/auth/*``, ``/api/v1/users`` (seed 004),
``/api/v1/admin/users`` (aliases) and ``/api/v1/admin/roles``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import ValidationError

from hms.core.auth import CurrentPrincipal, DbSession, Principal, SessionPrincipal, require
from hms.core.errors import ValidationFailed
from hms.core.pagination import Page, Pagination
from hms.core.permissions import Perm, Role
from hms.core.problems import PROBLEM_RESPONSES, validation_errors
from hms.identity import roles, service
from hms.identity.schemas import (
    ChangePasswordRequest,
    LoginRequest,
    Me,
    MfaCode,
    MfaDisableRequest,
    MfaEnrollment,
    MfaRecoveryCodes,
    RefreshRequest,
    RolePermissionsUpdate,
    RoleRead,
    SessionRead,
    TokenPair,
    UserCreate,
    UserDetails,
    UserRead,
    UserUpdate,
)
from hms.identity.throttling import throttle_credentials

# Every POST on login, refresh, change-password and /mfa/* is rate limited per IP and per
# account (hms.identity.throttling); the dependency lets the other auth routes through.
auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"],
                        dependencies=[Depends(throttle_credentials)])
_admin_routes = APIRouter(prefix="/api/v1/admin", tags=["admin"])
#: Seed 004 ``/users``: the canonical user handlers (``/admin/users`` are aliases).
users_router = APIRouter(prefix="/api/v1/users", tags=["users"])
#: What the app mounts: ``/admin/*`` and ``/users`` (assembled at the end of the module).
admin_router = APIRouter()

ManageUsers = Annotated[Principal, Depends(require(Perm.USER_MANAGE))]
ReadUsers = Annotated[Principal, Depends(require(Perm.USER_READ))]
ManageRoles = Annotated[Principal, Depends(require(Perm.ROLE_MANAGE))]

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
                        "otp": {"type": "string", "maxLength": 64,
                                "description": "TOTP or recovery code (accounts with MFA)"},
                        "scope": {"type": "string"},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string", "maxLength": 64,
                                          "description": "OAuth2 clients: the one-time code "
                                                         "when otp is not sent"},
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
        # OAuth2 password-flow clients (e.g. Swagger UI) have no otp field: they may send
        # the one-time code as client_secret.
        otp = form.get("otp") or form.get("client_secret") or None
        return LoginRequest.model_validate(
            {"username": form.get("username") or form.get("email"),
             "password": form.get("password"), "otp": otp}
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
    return await service.login(session, body.username, body.password, body.otp)


@auth_router.post(
    "/refresh", summary="Rotate a refresh token", response_model=TokenPair,
    responses=PROBLEM_RESPONSES,
)
async def refresh(body: RefreshRequest, session: DbSession) -> TokenPair:
    return await service.refresh(session, body.refresh_token)


# The caller's own account routes take SessionPrincipal: they answer restricted sessions too
# (expired or reset password, MFA enrolment pending). Every other route refuses those.


@auth_router.post(
    "/logout", summary="Revoke this access token and its refresh family", status_code=204,
    responses=PROBLEM_RESPONSES,
)
async def logout(principal: SessionPrincipal, session: DbSession) -> None:
    await service.logout(session, principal)


@auth_router.post(
    "/logout-all", summary="Revoke every session of the caller (log out everywhere)",
    status_code=204, responses=PROBLEM_RESPONSES,
)
async def logout_all(principal: SessionPrincipal, session: DbSession) -> None:
    await service.logout_all(session, principal)


@auth_router.get("/me", summary="The caller's account", response_model=Me,
                 responses=PROBLEM_RESPONSES)
async def me(principal: SessionPrincipal, session: DbSession) -> Me:
    return await service.me(session, principal)


@auth_router.post(
    "/change-password", summary="Change the caller's password (policy-checked)",
    status_code=204, responses=PROBLEM_RESPONSES,
)
async def change_password(
    body: ChangePasswordRequest, principal: SessionPrincipal, session: DbSession
) -> None:
    await service.change_password(session, principal, body)


@auth_router.get("/sessions", summary="The caller's live sessions",
                 response_model=Page[SessionRead], responses=PROBLEM_RESPONSES)
async def list_sessions(
    principal: CurrentPrincipal, session: DbSession, page: Pagination
) -> Page[SessionRead]:
    return await service.list_sessions(session, principal, page)


@auth_router.delete(
    "/sessions/{session_id}", summary="Revoke one of the caller's sessions", status_code=204,
    responses=PROBLEM_RESPONSES,
)
async def revoke_session(
    session_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> None:
    await service.revoke_own_session(session, principal, session_id)


@auth_router.post(
    "/mfa/enroll", summary="Start TOTP enrolment: a new secret and otpauth:// URI",
    response_model=MfaEnrollment, responses=PROBLEM_RESPONSES,
)
async def mfa_enroll(principal: SessionPrincipal, session: DbSession) -> MfaEnrollment:
    return await service.mfa_enroll(session, principal)


@auth_router.post(
    "/mfa/confirm", summary="Activate MFA with a current code; returns recovery codes",
    response_model=MfaRecoveryCodes, responses=PROBLEM_RESPONSES,
)
async def mfa_confirm(
    body: MfaCode, principal: SessionPrincipal, session: DbSession
) -> MfaRecoveryCodes:
    return await service.mfa_confirm(session, principal, body.code)


@auth_router.post(
    "/mfa/disable", summary="Turn MFA off (needs a current code or the password)",
    status_code=204, responses=PROBLEM_RESPONSES,
)
async def mfa_disable(
    body: MfaDisableRequest, principal: SessionPrincipal, session: DbSession
) -> None:
    await service.mfa_disable(session, principal, body)


UserSortQuery = Annotated[str | None, Query(
    max_length=100, pattern=r"^-?[a-z_]+(,-?[a-z_]+)*$",
    description="username, email, first_name, last_name, role, created_at, last_login_at; "
                "-key descending")]


@users_router.get("", summary="List staff accounts (staff directory)",
                  response_model=Page[UserRead], responses=PROBLEM_RESPONSES)
async def list_users(
    actor: ReadUsers,
    session: DbSession,
    page: Pagination,
    role: Annotated[Role | None, Query(description="Unified name or seed 004 label")] = None,
    is_active: Annotated[bool | None, Query()] = None,
    department_id: Annotated[uuid.UUID | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100,
                                   description="Part of the username, email or name")] = None,
    sort: UserSortQuery = None,
) -> Page[UserRead]:
    found = await service.list_users(session, page, role=role, is_active=is_active,
                                     department_id=department_id, q=q, sort=sort)
    if actor.can(Perm.USER_MANAGE):
        return found
    return found.model_copy(update={"items": [u.directory_view() for u in found.items]})


@users_router.post("", summary="Create a staff account (email, names, role, department)",
                   response_model=UserRead, status_code=201, responses=PROBLEM_RESPONSES)
async def create_user(body: UserCreate, _: ManageUsers, session: DbSession,
                      response: Response) -> UserRead:
    user = await service.create_user(session, body)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return user


@users_router.get("/{id}", summary="Read a staff account", response_model=UserRead,
                  responses=PROBLEM_RESPONSES)
async def get_user(id: uuid.UUID, actor: ReadUsers, session: DbSession) -> UserRead:
    user = await service.get_user(session, id)
    return user if actor.can(Perm.USER_MANAGE) else user.directory_view()


@users_router.get("/{id}/details", summary="Read a staff account with its department",
                  response_model=UserDetails, responses=PROBLEM_RESPONSES)
async def get_user_details(id: uuid.UUID, actor: ReadUsers, session: DbSession
                           ) -> UserDetails:
    user = await service.user_details(session, id)
    return user if actor.can(Perm.USER_MANAGE) else user.directory_view()


@users_router.put(
    "/{id}", summary="Update a staff account (partial), reset its password or MFA",
    response_model=UserRead, responses=PROBLEM_RESPONSES,
)
async def update_user(id: uuid.UUID, body: UserUpdate, _: ManageUsers,
                      session: DbSession) -> UserRead:
    return await service.update_user(session, id, body)


@users_router.delete(
    "/{id}", summary="Deactivate a staff account (never deleted) and revoke its sessions",
    response_model=UserRead, responses=PROBLEM_RESPONSES,
)
async def deactivate_user(id: uuid.UUID, actor: ManageUsers, session: DbSession) -> UserRead:
    return await service.deactivate_user(session, actor, id)


# Seed 000/003 paths, kept as aliases of the handlers above.


@_admin_routes.get("/users", summary="List staff accounts (alias of GET /users)",
                   response_model=Page[UserRead], responses=PROBLEM_RESPONSES)
async def admin_list_users(
    _: ManageUsers,
    session: DbSession,
    page: Pagination,
    role: Annotated[Role | None, Query()] = None,
    is_active: Annotated[bool | None, Query()] = None,
    department_id: Annotated[uuid.UUID | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    sort: UserSortQuery = None,
) -> Page[UserRead]:
    return await service.list_users(session, page, role=role, is_active=is_active,
                                    department_id=department_id, q=q, sort=sort)


@_admin_routes.post("/users", summary="Create a staff account (alias of POST /users)",
                    response_model=UserRead, status_code=201, responses=PROBLEM_RESPONSES)
async def admin_create_user(body: UserCreate, _: ManageUsers, session: DbSession) -> UserRead:
    return await service.create_user(session, body)


@_admin_routes.put(
    "/users/{user_id}", summary="Change a staff account (alias of PUT /users/{id})",
    response_model=UserRead, responses=PROBLEM_RESPONSES,
)
async def admin_update_user(
    user_id: uuid.UUID, body: UserUpdate, _: ManageUsers, session: DbSession
) -> UserRead:
    return await service.update_user(session, user_id, body)


RoleName = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z_]+$",
                               description="Role name, e.g. physician (alias doctor)")]


@_admin_routes.get("/roles", summary="Roles with their permission strings",
                  response_model=Page[RoleRead], responses=PROBLEM_RESPONSES)
async def list_roles(_: ManageRoles, session: DbSession, page: Pagination) -> Page[RoleRead]:
    return await roles.list_roles(session, page)


@_admin_routes.put(
    "/roles/{role}/permissions",
    summary="Replace a role's permission strings (resource:action[:scope])",
    response_model=RoleRead, responses=PROBLEM_RESPONSES,
)
async def set_role_permissions(
    role: RoleName, body: RolePermissionsUpdate, actor: ManageRoles, session: DbSession
) -> RoleRead:
    return await roles.set_role_permissions(session, actor, role, body)


admin_router.include_router(_admin_routes)
admin_router.include_router(users_router)
