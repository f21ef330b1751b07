"""Asyncio load generator (aiohttp): a latency model and a throughput model.

Latency model: N simulated users, each looping its scenario with an exponential think
time (mean ``think`` seconds) before every call after the first of an iteration and between
iterations, like staff at their desks: N users offer about N calls per second whatever the
number of calls a scenario makes. An iteration's latency is the sum of its timed calls'
response times (the thinking between them is not the server's).
Throughput model: closed loop with C connections and no think time: how many iterations
per second the server sustains.

Both run a warm-up (samples discarded) then a fixed measured window. Only iterations that
start and finish inside the window count. The generator's own CPU seconds over the window
(``resource.getrusage``) and the server's RSS (``/proc/<pid>/status`` VmRSS, the process
and its children, once a second) are reported with the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp


class ScenarioError(Exception):
    """An unexpected status or body: counted as an error for the scenario."""


class Stopwatch:
    """The timed part of an iteration: when it started and the response time of its calls
    so far. A scenario that does untimed preparation first (e.g. opening the visit its
    form goes to) calls :meth:`restart`. ``think`` (latency model) returns the pause
    before each call after the first."""

    def __init__(self, think: Callable[[], float] | None = None) -> None:
        self.started = time.perf_counter()
        self.response_s = 0.0
        self.calls = 0
        self.think = think

    def restart(self) -> None:
        self.started = time.perf_counter()
        self.response_s = 0.0


#: The stopwatch of the iteration the current task is running.
_watch: contextvars.ContextVar[Stopwatch | None] = contextvars.ContextVar("watch",
                                                                         default=None)


class Http:
    """A thin aiohttp wrapper: bearer token, expected status, JSON body back."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.session = session
        self.requests = 0

    async def call(self, method: str, path: str, token: str | None = None, *,
                   expect: int | tuple[int, ...] = 200, json: Any = None,
                   data: Any = None, params: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Any:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        watch = _watch.get()
        if watch is not None and watch.think is not None and watch.calls:
            await asyncio.sleep(watch.think())
        self.requests += 1
        t0 = time.perf_counter()
        async with self.session.request(method, self.base + path, json=json, data=data,
                                        params=params, headers=hdrs) as resp:
            body = await resp.read()
            if watch is not None:
                watch.calls += 1
                watch.response_s += time.perf_counter() - t0
            if resp.status not in ((expect,) if isinstance(expect, int) else expect):
                raise ScenarioError(f"{method} {path.split('?')[0]} -> {resp.status}: "
                                    f"{body[:200].decode(errors='replace')}")
            if resp.content_type.endswith("json") and body:
                import json as _json

                return _json.loads(body)
            return body


#: ``iteration(http, state, stopwatch)``; ``setup(http, worker_index) -> state``.
Iteration = Callable[[Http, Any, Stopwatch], Awaitable[None]]
Setup = Callable[[Http, int], Awaitable[Any]]


@dataclass
class Result:
    scenario: str
    model: str  # "latency" or "throughput"
    workers: int  # users (latency) or connections (throughput)
    duration_s: float
    count: int = 0
    errors: int = 0
    http_requests: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    error_samples: list[str] = field(default_factory=list)
    loadgen_cpu_s: float = 0.0
    server_rss_kb: list[int] = field(default_factory=list)

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        data = sorted(self.latencies_ms)
        k = (len(data) - 1) * q
        lo, hi = int(k), min(int(k) + 1, len(data) - 1)
        return round(data[lo] + (data[hi] - data[lo]) * (k - lo), 2)

    def summary(self) -> dict[str, Any]:
        rss = self.server_rss_kb
        return {
            "scenario": self.scenario, "model": self.model, "workers": self.workers,
            "duration_s": round(self.duration_s, 2), "count": self.count,
            "errors": self.errors, "http_requests": self.http_requests,
            "rps": round(self.count / self.duration_s, 2) if self.duration_s else None,
            "p50_ms": self.percentile(0.50), "p95_ms": self.percentile(0.95),
            "p99_ms": self.percentile(0.99),
            "error_samples": self.error_samples[:5],
            "loadgen_cpu_s": round(self.loadgen_cpu_s, 3),
            "server_rss_kb": rss,
            "server_rss_growth_kb": (rss[-1] - rss[0]) if len(rss) >= 2 else None,
        }


def rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` plus its children (uvicorn workers), in kB; 0 if gone."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


async def _sample_rss(pid: int | None, into: list[int], stop: asyncio.Event) -> None:
    if pid is None:
        return
    while not stop.is_set():
        into.append(rss_kb(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def run(base: str, name: str, iteration: Iteration, setup: Setup | None, *,
              model: str, workers: int, warmup: float, duration: float,
              think: float = 1.0, server_pid: int | None = None, seed: int = 5,
              request_timeout: float = 60.0) -> Result:
    """Run one scenario under one model; returns the measured window's figures."""
    result = Result(name, model, workers, duration)
    rng = random.Random(seed)
    connector = aiohttp.TCPConnector(limit=0 if model == "latency" else workers,
                                     force_close=False)
    async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=request_timeout)) as session:
        http = Http(base, session)
        states = [await setup(http, i) if setup else None for i in range(workers)]
        loop_start = time.perf_counter()
        window_start = loop_start + warmup
        window_end = window_start + duration
        stop_rss = asyncio.Event()
        in_window_requests = [0]

        async def user(i: int) -> None:
            if model == "latency":  # spread the first requests like staff arriving
                await asyncio.sleep(rng.uniform(0, min(think, warmup or think)))
            def pause() -> float:
                return min(rng.expovariate(1 / think), 10 * think)

            while time.perf_counter() < window_end:
                watch = Stopwatch(pause if model == "latency" else None)
                _watch.set(watch)
                before = http.requests
                error: str | None = None
                try:
                    await iteration(http, states[i], watch)
                except Exception as exc:  # any failure of an iteration is its error
                    error = f"{type(exc).__name__}: {exc}"[:300]
                end = time.perf_counter()
                if watch.started >= window_start and end <= window_end:
                    in_window_requests[0] += http.requests - before
                    if error is None:
                        result.count += 1
                        result.latencies_ms.append(watch.response_s * 1000)
                    else:
                        result.errors += 1
                        if len(result.error_samples) < 20:
                            result.error_samples.append(error)
                elif error is not None and len(result.error_samples) < 5:
                    result.error_samples.append("(outside window) " + error)
                if model == "latency":  # think, but never past the end of the window
                    await asyncio.sleep(max(0.0, min(pause(),
                                                     window_end - time.perf_counter())))

        async def measure() -> None:
            await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
            cpu0 = _cpu()
            rss_task = asyncio.create_task(_sample_rss(server_pid, result.server_rss_kb,
                                                       stop_rss))
            await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
            result.loadgen_cpu_s = _cpu() - cpu0
            stop_rss.set()
            await rss_task

        tasks = [asyncio.create_task(user(i)) for i in range(workers)]
        await measure()
        # In-flight iterations finish (they are not counted) so the next run starts clean.
        _, pending = await asyncio.wait(tasks, timeout=request_timeout)
        for t in pending:
            t.cancel()
        result.http_requests = in_window_requests[0]
    return result
