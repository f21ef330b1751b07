"""Per-process cache of authenticated principals, kept true by PostgreSQL NOTIFY (issue 5).

Every request used to load the user, the login session and the role's revision before doing
its own work: a round trip and two ORM objects, a fifth of an audited patient read's CPU
(py-spy, 2026-12-06). A worker now keeps what a bearer token resolved to and answers from
memory until one of these happens:

- any write to ``users``, ``sessions``, ``roles`` or ``role_permissions``, by anyone: the
  triggers of migration 0017 ``NOTIFY hms_principal`` with the user's id (or ``*``) at
  commit, and every worker's listener drops that user's entries (or all);
- an ORM write in this process to those tables (a flush of their objects, or an
  ``update()``/``delete()``/``insert()`` of their classes), before the commit, so a
  logout, a revocation or a deactivation is seen by this worker's very next request;
- the answer's own deadline: the token's, the login session's or the password's expiry, and
  at most ``principal_cache_seconds`` after it was read;
- the listener's connection is down: the cache is emptied and bypassed (every request reads
  the database, as before) until it is back.

A load that started before an invalidation is not stored (a generation counter), so a
revoked session cannot be put back by a request that raced the revocation. What remains is
the delivery time of a NOTIFY to another worker (milliseconds) during which a request that
was already racing the change may still pass, as it would have a moment earlier.

SQLite has no NOTIFY and other processes (the CLI) write the same file, so the cache is not
used there. Settings: ``HMS_PRINCIPAL_CACHE_SECONDS`` (60; 0 turns the cache off).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction

from hms.core.auth import Principal
from hms.identity import service
from hms.identity.models import AuthSession, RoleDefinition, RolePermission, User

log = structlog.get_logger("hms.identity.principal_cache")

#: The NOTIFY channel of migration 0017.
CHANNEL = "hms_principal"
#: Entries kept at most; reaching it empties the cache (it refills from the database).
MAX_ENTRIES = 20_000
#: Seconds between attempts to reconnect a lost listener.
RECONNECT_SECONDS = 2.0

_WATCHED = (User, AuthSession, RoleDefinition, RolePermission)


@dataclass(slots=True)
class _Entry:
    principal: Principal
    valid_until: float  # time.time() seconds


class PrincipalCache:
    """Bearer token -> :class:`Principal`, for one worker process.

    ``live`` is True only while invalidations can reach the cache (the listener is
    connected); otherwise :meth:`get` always misses and :meth:`put` stores nothing.
    """

    def __init__(self, max_age: float, max_entries: int = MAX_ENTRIES) -> None:
        self.max_age = max_age
        self.max_entries = max_entries
        self.generation = 0
        self.live = False
        self._entries: dict[str, _Entry] = {}
        _caches.add(self)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, now: float) -> Principal | None:
        """The cached principal of ``token``, or None (miss, expired, or not live)."""
        if not self.live:
            return None
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry.valid_until <= now:
            self._entries.pop(token, None)
            return None
        return entry.principal

    def put(self, token: str, principal: Principal, valid_until: float, *,
            generation: int, now: float) -> None:
        """Store a principal loaded while :attr:`generation` was ``generation``; dropped
        when an invalidation happened in between (or the cache is not live)."""
        if not self.live or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[token] = _Entry(principal, min(valid_until, now + self.max_age))

    def invalidate(self, user_id: str | None = None) -> None:
        """Forget ``user_id``'s entries, or every entry when None (or not a user id)."""
        self.generation += 1
        try:
            target = uuid.UUID(user_id) if user_id not in (None, "*") else None
        except ValueError:
            target = None
        if target is None:
            self._entries.clear()
            return
        for token in [t for t, e in self._entries.items() if e.principal.user_id == target]:
            del self._entries[token]


#: Every cache of this process (an app per test; one per worker in production).
_caches: weakref.WeakSet[PrincipalCache] = weakref.WeakSet()


def invalidate_all_local() -> None:
    """Empty every cache of this process (a flush here touched a watched table)."""
    for cache in list(_caches):
        cache.invalidate(None)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    if not _caches:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _WATCHED):
            invalidate_all_local()
            return


@event.listens_for(Session, "do_orm_execute")
def _on_bulk_write(state: Any) -> None:
    # update(AuthSession)..., delete(RolePermission)...: no objects in the session to see.
    if not _caches or not (state.is_update or state.is_delete or state.is_insert):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ in _WATCHED:
        invalidate_all_local()


class PrincipalListener:
    """Keeps a dedicated asyncpg connection LISTENing on :data:`CHANNEL` and feeds the
    cache; reconnects in the background and keeps the cache off while disconnected."""

    def __init__(self, cache: PrincipalCache, database_url: str) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.cache = cache
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self.cache.invalidate(payload or None)

    def _on_close(self, conn: Any) -> None:
        self.cache.live = False
        self.cache.invalidate(None)
        self._lost.set()

    async def _connect(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn, timeout=5)
        conn.add_termination_listener(self._on_close)
        await conn.add_listener(CHANNEL, self._on_notify)
        self._conn = conn
        self._lost.clear()
        # Anything committed before LISTEN took effect was read fresh (the cache was empty).
        self.cache.invalidate(None)
        self.cache.live = True

    async def start(self) -> None:
        """Connect (a failure leaves the cache off and retries in the background)."""
        try:
            await self._connect()
        except Exception as error:  # the database may be down at start: serve uncached
            log.warning("principal_listener_unavailable", error_type=type(error).__name__)
            self._lost.set()
        self._task = asyncio.create_task(self._keep_alive())

    async def _keep_alive(self) -> None:
        while True:
            await self._lost.wait()
            self.cache.live = False
            self.cache.invalidate(None)
            await asyncio.sleep(RECONNECT_SECONDS)
            try:
                await self._connect()
                log.info("principal_listener_reconnected")
            except Exception as error:  # keep trying; the cache stays off meanwhile
                log.warning("principal_listener_unavailable",
                            error_type=type(error).__name__)

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        self.cache.live = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close()


class CachedAuthenticator:
    """The ``app.state.authenticator`` with :class:`PrincipalCache` in front of
    :func:`hms.identity.service.authenticate_until`. Same errors (401); refusals are never
    cached."""

    def __init__(self, cache: PrincipalCache) -> None:
        self.cache = cache

    def cached(self, token: str) -> Principal | None:
        """The principal ``token`` resolved to, from memory only; None on a miss (then
        call the authenticator, which reads the database). Used by
        :func:`hms.core.auth.authorize`, which opens a session only on a miss."""
        return self.cache.get(token, time.time())

    async def __call__(self, session: AsyncSession, token: str) -> Principal:
        now = time.time()
        hit = self.cache.get(token, now)
        if hit is not None:
            return hit
        generation = self.cache.generation
        principal, until = await service.authenticate_until(session, token)
        self.cache.put(token, principal, until.timestamp(), generation=generation,
                       now=now)
        return principal

