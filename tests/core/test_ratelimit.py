"""The rate limiter itself: limits, windows and keys, in memory and in a real Redis.

The HTTP behaviour (which routes, per IP and per account, 429 + Retry-After) is in
tests/identity/test_rate_limits.py.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
import redis.asyncio as aioredis

from hms.core.ratelimit import (
    Check,
    MemoryBackend,
    Rate,
    RateLimited,
    RateLimiter,
    RedisBackend,
)

REDIS_URL = os.environ.get("HMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


class FakeClock:
    """Monotonic seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestRateParsing:
    @pytest.mark.parametrize(("text", "limit", "seconds"), [
        ("20/minute", 20, 60), ("5/10s", 5, 10), ("100/h", 100, 3600), ("3 / 2 seconds", 3, 2),
        ("1/day", 1, 86400), ("10/M", 10, 60),
    ])
    def test_accepted_forms(self, text, limit, seconds):
        assert Rate.parse(text) == Rate(limit, seconds)

    @pytest.mark.parametrize("text", ["", "20", "0/minute", "5/0s", "5/fortnight", "-1/s",
                                      "five/minute", "5/minute; DROP TABLE"])
    def test_refused_forms(self, text):
        with pytest.raises(ValueError, match="rate"):
            Rate.parse(text)


class TestMemoryBackend:
    async def test_refuses_over_the_limit_until_the_window_closes(self):
        clock = FakeClock()
        limiter = RateLimiter(MemoryBackend(clock=clock))
        check = Check("login:ip", "10.0.0.1", Rate(3, 60))
        for _ in range(3):
            await limiter.enforce([check])
        clock.now += 20
        with pytest.raises(RateLimited) as refused:
            await limiter.enforce([check])
        assert refused.value.retry_after == 40
        assert refused.value.headers == {"Retry-After": "40"}
        assert refused.value.status_code == 429
        clock.now += 40
        await limiter.enforce([check])  # a fresh window

    async def test_subjects_and_rules_are_counted_apart(self):
        limiter = RateLimiter(MemoryBackend(clock=FakeClock()))
        rate = Rate(1, 60)
        await limiter.enforce([Check("login:ip", "10.0.0.1", rate)])
        await limiter.enforce([Check("login:ip", "10.0.0.2", rate)])
        await limiter.enforce([Check("refresh:ip", "10.0.0.1", rate)])
        with pytest.raises(RateLimited):
            await limiter.enforce([Check("login:ip", "10.0.0.1", rate)])

    async def test_every_counter_is_hit_even_when_one_refuses(self):
        limiter = RateLimiter(MemoryBackend(clock=FakeClock()))
        ip_rate, account_rate = Rate(1, 60), Rate(3, 60)
        await limiter.enforce([Check("login:ip", "a", ip_rate)])
        for _ in range(2):  # the IP is over; the account still counts these attempts
            with pytest.raises(RateLimited):
                await limiter.enforce([Check("login:ip", "a", ip_rate),
                                       Check("login:account", "dr.x", account_rate)])
        await limiter.enforce([Check("login:account", "dr.x", account_rate)])
        with pytest.raises(RateLimited):
            await limiter.enforce([Check("login:account", "dr.x", account_rate)])

    async def test_retry_after_is_the_longest_refusing_wait(self):
        clock = FakeClock()
        limiter = RateLimiter(MemoryBackend(clock=clock))
        short, long = Check("a", "x", Rate(1, 10)), Check("b", "x", Rate(1, 300))
        await limiter.enforce([short, long])
        with pytest.raises(RateLimited) as refused:
            await limiter.enforce([short, long])
        assert refused.value.retry_after == 300

    async def test_memory_stays_bounded_when_subjects_vary(self):
        clock = FakeClock()
        backend = MemoryBackend(clock=clock, max_keys=50)
        limiter = RateLimiter(backend)
        for i in range(500):
            await limiter.enforce([Check("login:account", f"user{i}", Rate(5, 60))])
        assert len(backend._counters) <= 50

    async def test_concurrent_hits_are_all_counted(self):
        limiter = RateLimiter(MemoryBackend())
        check = Check("login:ip", "10.0.0.9", Rate(50, 60))
        results = await asyncio.gather(*(limiter.enforce([check]) for _ in range(80)),
                                       return_exceptions=True)
        assert sum(isinstance(r, RateLimited) for r in results) == 30

    async def test_keys_hold_no_raw_subject(self):
        backend = MemoryBackend()
        await RateLimiter(backend).enforce([Check("login:account", "dr.secret@x.org",
                                                  Rate(5, 60))])
        assert not any("secret" in key for key in backend._counters)


@pytest.fixture
async def redis_limiter():
    """A limiter on the test Redis (db 14) under a prefix of its own; keys deleted after."""
    prefix = f"hms-test:{uuid.uuid4().hex}"
    backend = RedisBackend(REDIS_URL)
    yield RateLimiter(backend, prefix=prefix)
    await backend.aclose()
    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


class TestRedisBackend:
    async def test_limit_and_expiry_in_redis(self, redis_limiter):
        check = Check("login:ip", "10.0.0.1", Rate(2, 1))
        await redis_limiter.enforce([check])
        await redis_limiter.enforce([check])
        with pytest.raises(RateLimited) as refused:
            await redis_limiter.enforce([check])
        assert refused.value.retry_after == 1
        await asyncio.sleep(1.1)
        await redis_limiter.enforce([check])

    async def test_counters_are_shared_between_limiters(self, redis_limiter):
        """Two workers (two limiters, two connection pools) share one count."""
        other = RateLimiter(RedisBackend(REDIS_URL), prefix=redis_limiter.prefix)
        try:
            check = Check("login:account", "dr.shared", Rate(3, 60))
            await redis_limiter.enforce([check])
            await other.enforce([check])
            await redis_limiter.enforce([check])
            with pytest.raises(RateLimited):
                await other.enforce([check])
        finally:
            await other.aclose()

    async def test_every_window_has_an_expiry(self, redis_limiter):
        check = Check("refresh:ip", "10.0.0.3", Rate(5, 60))
        await redis_limiter.enforce([check])
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            keys = [k async for k in client.scan_iter(match=f"{redis_limiter.prefix}:*")]
            assert len(keys) == 1
            assert b"10.0.0.3" not in keys[0]
            assert 0 < await client.pttl(keys[0]) <= 60_000
        finally:
            await client.aclose()

    async def test_concurrent_hits_are_all_counted(self, redis_limiter):
        check = Check("login:ip", "10.0.0.4", Rate(10, 60))
        results = await asyncio.gather(*(redis_limiter.enforce([check]) for _ in range(15)),
                                       return_exceptions=True)
        assert sum(isinstance(r, RateLimited) for r in results) == 5

    async def test_unreachable_redis_falls_back_to_memory(self):
        limiter = RateLimiter(RedisBackend("redis://127.0.0.1:1/0", timeout_seconds=0.2))
        try:
            check = Check("login:ip", "10.0.0.5", Rate(2, 60))
            await limiter.enforce([check])
            await limiter.enforce([check])
            with pytest.raises(RateLimited):
                await limiter.enforce([check])
        finally:
            await limiter.aclose()

    async def test_redis_is_used_again_after_the_retry_delay(self, redis_limiter):
        backend = RedisBackend(REDIS_URL, retry_seconds=0.2)
        limiter = RateLimiter(backend, prefix=redis_limiter.prefix)
        try:
            check = Check("login:ip", "10.0.0.6", Rate(1, 60))
            backend._down_until = float("inf")  # as right after a failure
            await limiter.enforce([check])  # counted in this process only
            await redis_limiter.enforce([check])  # Redis has not seen the first hit
            backend._down_until = 0.0  # the retry delay is over
            with pytest.raises(RateLimited):
                await limiter.enforce([check])  # Redis again: the shared count is over
        finally:
            await limiter.aclose()
