"""Rate limiting: fixed-window counters in Redis (shared by every process) or in memory.

Pure mechanism: what is limited, and under which key, is decided by the caller (the
identity module limits login, refresh and password routes per client IP and per account).

Each counter is a window that opens at its first hit and lasts ``Rate.window_seconds``;
hits inside it are counted, and once the count passes ``Rate.limit`` the caller is refused
until the window closes (``Retry-After`` = the seconds left). In Redis the increment and
the expiry are one Lua script (``INCR`` + ``PEXPIRE`` on the first hit), so concurrent
requests on any number of workers share one exact count.

Counter keys never hold the raw subject (a username, an e-mail address, an IP): they hold
its SHA-256, so the store does not become a list of who tried to log in.

Source: OWASP Authentication Cheat Sheet ("Login Throttling"); NIST SP 800-63B section
5.2.2 (rate limiting of authentication attempts); RFC 6585 section 4 (429) and RFC 9110
section 10.2.3 (Retry-After).
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from hms.core.errors import TooManyRequests

log = structlog.get_logger("hms.ratelimit")

_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` hits per ``window_seconds``.

    Attributes:
        limit: hits allowed in one window (>= 1).
        window_seconds: window length in seconds (> 0).
    """

    limit: int
    window_seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Parse ``"20/minute"``, ``"5/10seconds"``, ``"100/h"``, ``"3/1s"``.

        Raises:
            ValueError: not ``N/[M]unit`` with N >= 1, M >= 1 and a known unit (s, m, h, d
                and their long forms).
        """
        match = _RATE.match(text.lower())
        if not match or match.group(3) not in _UNITS:
            raise ValueError(f"rate '{text}' is not N/[M]unit, e.g. 20/minute or 5/10s")
        limit = int(match.group(1))
        count = int(match.group(2) or 1)
        if limit < 1 or count < 1:
            raise ValueError(f"rate '{text}' must allow at least 1 hit per window")
        return cls(limit=limit, window_seconds=count * _UNITS[match.group(3)])

    def __str__(self) -> str:
        return f"{self.limit}/{self.window_seconds}s"


@dataclass(frozen=True, slots=True)
class Check:
    """One counter to hit: ``rule`` names what is limited (``login:ip``), ``subject`` whose
    attempts they are (an IP, a lower-cased username), ``rate`` the limit."""

    rule: str
    subject: str
    rate: Rate


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one hit: the count in the current window, whether it is within the
    limit, and the seconds until the window closes (>= 1)."""

    check: Check
    count: int
    reset_seconds: int

    @property
    def allowed(self) -> bool:
        """True while the count is within the limit."""
        return self.count <= self.check.rate.limit


class RateLimited(TooManyRequests):
    """429 with a ``Retry-After`` header (whole seconds until the refused window closes)."""

    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many attempts; try again in {retry_after} seconds",
            extra={"retry_after": retry_after},
        )
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class Backend(Protocol):
    """A counter store."""

    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        """Count one hit on ``key``; returns ``(count in window, milliseconds left)``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class MemoryBackend:
    """Counters in this process (one worker): a dict of ``key -> (count, expires_at)``.

    Safe for concurrent tasks and threads (one lock around each read-modify-write; no
    ``await`` inside). Expired windows are swept when the table passes ``max_keys``; if it
    is still full after that, the oldest windows are dropped, so memory stays bounded
    even when an attacker varies usernames.

    Args:
        clock: monotonic seconds (a fake clock in tests).
        max_keys: sweep threshold.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._counters: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _sweep(self, now: float) -> None:
        expired = [k for k, (_, until) in self._counters.items() if until <= now]
        for key in expired:
            del self._counters[key]
        overflow = len(self._counters) - self._max_keys
        if overflow >= 0:
            for key in list(self._counters)[: overflow + 1]:
                del self._counters[key]

    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        """Count one hit (see :class:`Backend`)."""
        now = self._clock()
        with self._lock:
            count, until = self._counters.get(key, (0, 0.0))
            if until <= now:
                if key not in self._counters and len(self._counters) >= self._max_keys:
                    self._sweep(now)
                count, until = 0, now + window_ms / 1000
                self._counters.pop(key, None)  # re-insert: dict order = window age
            count += 1
            self._counters[key] = (count, until)
        return count, max(1, math.ceil((until - now) * 1000))

    async def aclose(self) -> None:
        """Nothing to release."""


# INCR and, on a window's first hit, PEXPIRE: atomic in one script. A key that somehow
# lost its expiry (PTTL -1) gets one, so no counter can block forever.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisBackend:
    """Counters in Redis, shared by every worker and host using the same Redis.

    When Redis cannot be reached the hit is counted in a per-process
    :class:`MemoryBackend` instead (logged, at most once a minute), so logins keep working
    and stay limited per worker; Redis is then left alone for ``retry_seconds``, so a dead
    Redis costs one timeout, not one per login.

    Args:
        url: ``redis://host:port/db`` (``settings.redis_url``).
        timeout_seconds: socket connect/read timeout; short, so a dead Redis does not stall
            logins.
        retry_seconds: how long to count in memory after a failure before trying Redis again.
    """

    def __init__(self, url: str, *, timeout_seconds: float = 1.0,
                 retry_seconds: float = 5.0) -> None:
        from redis.asyncio import Redis

        self._redis: Any = Redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds)
        self._script = self._redis.register_script(_HIT_SCRIPT)
        self._fallback = MemoryBackend()
        self._retry_seconds = retry_seconds
        self._down_until = -math.inf
        self._last_warning = -math.inf

    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        """Count one hit (see :class:`Backend`)."""
        from redis.exceptions import RedisError

        if time.monotonic() < self._down_until:
            return await self._fallback.hit(key, window_ms)
        try:
            count, ttl = await self._script(keys=[key], args=[window_ms])
            return int(count), max(1, int(ttl))
        except (TimeoutError, RedisError, OSError) as exc:
            now = time.monotonic()
            self._down_until = now + self._retry_seconds
            if now - self._last_warning > 60:
                self._last_warning = now
                log.warning("rate_limit_redis_unavailable", error_type=type(exc).__name__)
            return await self._fallback.hit(key, window_ms)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


class RateLimiter:
    """Counts hits under named rules and refuses callers over a limit.

    Args:
        backend: where counters live (:class:`RedisBackend` or :class:`MemoryBackend`).
        prefix: key namespace, e.g. ``hms:rl`` (tests use a unique one per run).
    """

    def __init__(self, backend: Backend, *, prefix: str = "hms:rl") -> None:
        self.backend = backend
        self.prefix = prefix

    def _key(self, check: Check) -> str:
        digest = hashlib.sha256(check.subject.encode("utf-8")).hexdigest()[:32]
        return f"{self.prefix}:{check.rule}:{check.rate.window_seconds}:{digest}"

    async def hit(self, check: Check) -> Decision:
        """Count one hit on ``check``'s counter."""
        count, left_ms = await self.backend.hit(self._key(check),
                                                check.rate.window_seconds * 1000)
        return Decision(check=check, count=count, reset_seconds=max(1, math.ceil(left_ms / 1000)))

    async def enforce(self, checks: Sequence[Check]) -> list[Decision]:
        """Count one hit on every check; refuse if any is over its limit.

        Every counter is incremented even when another already refuses, so an attacker
        spreading attempts over IPs still exhausts the account's budget.

        Returns:
            The decisions, in order (all allowed).

        Raises:
            RateLimited (429): some counter is over its limit; ``Retry-After`` is the
                longest wait among the refusing counters.
        """
        decisions = [await self.hit(check) for check in checks]
        refused = [d for d in decisions if not d.allowed]
        if refused:
            log.info("rate_limited", rules=[d.check.rule for d in refused])
            raise RateLimited(max(d.reset_seconds for d in refused))
        return decisions

    async def aclose(self) -> None:
        """Release the backend's connections."""
        await self.backend.aclose()


def create_limiter(redis_url: str | None, *, prefix: str = "hms:rl") -> RateLimiter:
    """A limiter on Redis when ``redis_url`` is set, in process memory otherwise."""
    backend: Backend = RedisBackend(redis_url) if redis_url else MemoryBackend()
    return RateLimiter(backend, prefix=prefix)
