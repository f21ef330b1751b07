"""Roles as data (seed 003 4.3/4.4): each role's permission strings live in
``role_permissions``; an admin replaces them with ``PUT /admin/roles/{name}/permissions``.

Per-request cost: authentication reads the role's ``permissions_revision`` in the same
query as the user and session; the parsed permissions are cached in the process by
``(role, revision)``. A change stamps a new random revision, so every worker sees it at its
next request, and a change that rolls back is never cached under a revision that exists.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, cast

import structlog
from sqlalchemy import Table, delete, insert, inspect, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.core.auth import Principal
from hms.core.errors import NotFound, RuleViolation, ValidationFailed
from hms.core.pagination import Page, PageParams
from hms.core.permissions import (
    SCOPABLE,
    InvalidGrant,
    Perm,
    Role,
    Scope,
    format_grant,
    parse_grant,
    permissions_for,
)
from hms.db.base import utcnow
from hms.identity.models import CataloguedPermission, RoleDefinition, RolePermission
from hms.identity.repository import RoleRepository
from hms.identity.schemas import RolePermissionsUpdate, RoleRead

log = structlog.get_logger("hms.identity.roles")

#: What a super_admin must always keep, so a bad edit cannot lock every admin out of user
#: and role management.
SUPER_ADMIN_FLOOR = (Perm.USER_MANAGE, Perm.ROLE_MANAGE)


class LockoutRefused(RuleViolation):
    """422: the change would leave nobody able to manage users or roles."""

    code = "role_lockout"


@dataclass(frozen=True, slots=True)
class RoleGrants:
    """A role's permission strings, parsed: the permissions held and the scopes of the
    scopable ones."""

    permissions: frozenset[Perm]
    scopes: frozenset[tuple[Perm, Scope]]


_EMPTY = RoleGrants(frozenset(), frozenset())
_CACHE_SIZE = 256
_cache: OrderedDict[tuple[str, str], RoleGrants] = OrderedDict()


def parse_grants(grants: list[str]) -> RoleGrants:
    """Parse stored permission strings; one that no longer parses (a permission the code
    retired) is skipped and logged, never granted."""
    perms: set[Perm] = set()
    scopes: set[tuple[Perm, Scope]] = set()
    for text in grants:
        try:
            perm, scope = parse_grant(text)
        except InvalidGrant:
            log.warning("role_permission_unknown", permission=text)
            continue
        perms.add(perm)
        if perm in SCOPABLE:
            scopes.add((perm, scope))
    return RoleGrants(frozenset(perms), frozenset(scopes))


async def grants_of(session: AsyncSession, role: str, revision: str | None) -> RoleGrants:
    """The parsed permissions of ``role`` at ``revision`` (cached per process).

    Args:
        role: role name (``users.role``).
        revision: the role row's ``permissions_revision``; None (no such role) grants
            nothing.
    """
    if revision is None:
        return _EMPTY
    key = (role, revision)
    cached = _cache.get(key)
    if cached is not None:
        _cache.move_to_end(key)
        return cached
    parsed = parse_grants(await RoleRepository(session).grants(role))
    _cache[key] = parsed
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return parsed


def _read(role: Any, grants: list[str]) -> RoleRead:
    return RoleRead(name=Role(role.name), description=role.description,
                    is_system=role.is_system, permissions=sorted(grants),
                    updated_at=role.updated_at)


async def list_roles(session: AsyncSession, page: PageParams) -> Page[RoleRead]:
    """A page of the roles (by name), each with its permission strings.

    Not audited: roles hold no patient data.
    """
    every = [_read(role, grants)
             for role, grants in await RoleRepository(session).all_with_grants()]
    return Page[RoleRead](items=every[page.offset:page.offset + page.page_size],
                          total=len(every), page=page.page, page_size=page.page_size)


def _normalise(raw: list[str]) -> list[str]:
    """Validate and canonicalise permission strings; ``perm:all`` absorbs narrower scopes
    of the same permission.

    Raises:
        ValidationFailed (422): one error per invalid string, field ``permissions.<i>``.
    """
    errors: list[dict[str, Any]] = []
    parsed: dict[Perm, set[Scope]] = {}
    for i, text in enumerate(raw):
        try:
            perm, scope = parse_grant(text)
        except InvalidGrant as exc:
            errors.append({"field": f"permissions.{i}", "in": "body", "message": str(exc),
                           "type": "invalid_permission"})
            continue
        parsed.setdefault(perm, set()).add(scope)
    if errors:
        raise ValidationFailed("Unknown or malformed permission strings", errors=errors)
    out: list[str] = []
    for perm, scopes in parsed.items():
        kept = {Scope.ALL} if Scope.ALL in scopes else scopes
        out.extend(format_grant(perm, s) for s in kept)
    return sorted(out)


async def set_role_permissions(
    session: AsyncSession, actor: Principal, name: str, data: RolePermissionsUpdate
) -> RoleRead:
    """Replace a role's permission list (audited with the before and after lists).

    Users of the role get the new permissions at their next request (the revision stamp
    invalidates every worker's cache).

    Args:
        name: role name, e.g. ``physician`` (aliases such as ``doctor`` accepted).
        data: the complete new list of ``resource:action[:scope]`` strings.

    Returns:
        The role with its stored (canonical, sorted) permissions.

    Raises:
        NotFound (404): no such role.
        ValidationFailed (422): a string is not a known permission, or carries a scope that
            permission does not take (one error per string).
        LockoutRefused (422, code ``role_lockout``): the list would take ``user:manage`` or
            ``role:manage`` away from ``super_admin``.

    Source: HMS seed 003 sections 4.3 (format) and 4.4 (roles).
    """
    try:
        role_name = Role(name).value
    except ValueError:
        raise NotFound("Role not found") from None
    grants = _normalise(data.permissions)
    if role_name == Role.SUPER_ADMIN.value:
        missing = [p.value for p in SUPER_ADMIN_FLOOR if p.value not in grants]
        if missing:
            raise LockoutRefused(
                "super_admin must keep " + ", ".join(missing)
                + ": without it nobody could manage users and roles",
                errors=[{"field": "permissions", "in": "body", "type": "role_lockout",
                         "message": f"must include {m}"} for m in missing],
            )
    repo = RoleRepository(session)
    role = await repo.get(role_name, for_update=True)
    if role is None:
        raise NotFound("Role not found")
    before = await repo.grants(role_name)
    if before != grants:
        await repo.replace_grants(role, grants, revision=uuid.uuid4().hex, now=utcnow())
        await audit.record(session, AuditAction.UPDATE, "role", role_name, changes={
            "before": {"permissions": before}, "after": {"permissions": grants},
            "added": sorted(set(grants) - set(before)),
            "removed": sorted(set(before) - set(grants)),
        })
    log.info("role_permissions_set", role=role_name, changed=before != grants,
             by=str(actor.user_id))
    return _read(role, grants)


def sync_permission_catalogue(connection: Connection) -> list[str]:
    """Bring the database's roles in line with the code's permission catalogue (run by
    ``hms migrate`` after upgrading to head; synchronous, in the migration's transaction).

    - A ``resource:action`` of :class:`Perm` the database has not seen is catalogued and
      granted, once, to every role whose default bundle (``ROLE_PERMISSIONS``) has it
      (scopable ones at ``:all``). Later removals by an admin stick.
    - A role of :class:`Role` missing from ``roles`` is added with its default bundle.
    - A catalogued permission the code no longer has is removed, with its grants.

    Returns:
        The permissions newly granted or retired (for the log).
    """
    if not inspect(connection).has_table(CataloguedPermission.__tablename__):
        return []
    now = utcnow()
    cat = cast(Table, CataloguedPermission.__table__)
    roles = cast(Table, RoleDefinition.__table__)
    grants = cast(Table, RolePermission.__table__)
    known = set(connection.scalars(select(cat.c.name)))
    present = set(connection.scalars(select(roles.c.name)))
    held = {(r, p) for r, p in connection.execute(select(grants.c.role, grants.c.permission))}
    touched: set[str] = set()
    for role in Role:
        if role.value not in present:
            connection.execute(insert(roles).values(
                name=role.value, description=None, is_system=True,
                permissions_revision=uuid.uuid4().hex, created_at=now, updated_at=now))
            for perm in permissions_for(role):
                if perm.value in known:
                    connection.execute(insert(grants).values(role=role.value,
                                                             permission=format_grant(perm)))
            touched.add(role.value)
    changes: list[str] = []
    for perm in Perm:
        if perm.value in known:
            continue
        connection.execute(insert(cat).values(name=perm.value, added_at=now))
        for role in Role:
            grant = format_grant(perm)
            if perm in permissions_for(role) and (role.value, grant) not in held:
                connection.execute(insert(grants).values(role=role.value, permission=grant))
                touched.add(role.value)
        changes.append(f"+{perm.value}")
    current = {p.value for p in Perm}
    for name in sorted(known - current):
        for role, permission in held:
            if permission == name or permission.startswith(name + ":"):
                connection.execute(delete(grants).where(grants.c.role == role,
                                                        grants.c.permission == permission))
                touched.add(role)
        connection.execute(delete(cat).where(cat.c.name == name))
        changes.append(f"-{name}")
    for role_name in touched:
        connection.execute(update(roles).where(roles.c.name == role_name).values(
            permissions_revision=uuid.uuid4().hex, updated_at=now))
    if changes:
        log.info("permission_catalogue_synced", changes=changes)
    return changes
