"""Running the ASGI app with several worker processes that share the load evenly.

uvicorn's own multi-worker mode binds one listening socket in the parent and every worker
accepts from it; a worker that wakes up accepts every pending connection at once (asyncio
accepts up to its backlog per wake-up), so a burst of keep-alive connections lands on one
worker and the other cores idle. Measured here: 16 benchmark connections, all 16 on one of
two workers, half the machine unused (issue 5; uvicorn's open pull request #2472 and the
issues it cites describe the same).

On Linux each worker therefore binds its own socket with ``SO_REUSEPORT``: the kernel
spreads new connections over the sockets of the group by a hash of the connection's
addresses (socket(7), "SO_REUSEPORT"; Linux 3.9+). The parent process supervises: it
restarts a worker that dies and stops them all on SIGINT/SIGTERM. Elsewhere, and with one
worker, it is plain ``uvicorn.run``.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
import socket
import sys
import time
from typing import Any

import structlog

log = structlog.get_logger("hms.serving")

#: Seconds a stopping worker gets to finish its requests before it is killed.
GRACE_SECONDS = 20.0
#: ``listen()`` backlog of each worker's socket.
BACKLOG = 2048


def freeze_startup_heap() -> int:
    """Collect once, then move every object alive now (imported modules, FastAPI's routes
    and Pydantic validators, SQLAlchemy's mappers, the connection pool...) out of the
    cyclic garbage collector's reach (``gc.freeze``). Returns how many objects were frozen.

    Why: a worker starts with ~200,000 tracked objects that live as long as the process,
    and every full (oldest-generation) collection walked them all: ~120 ms with the event
    loop stopped, felt as a latency spike by every request in flight on that worker. Frozen
    objects are still freed when their reference count drops to zero; only cycles among
    them would never be collected, and start-up objects live for the whole process anyway.
    Source: CPython's ``gc.freeze`` documentation; the same technique Instagram described
    for its Django servers ("Dismissing Python Garbage Collection at Instagram", 2017).
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def balanced_workers_supported() -> bool:
    """True where per-worker ``SO_REUSEPORT`` sockets are load-balanced (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _check_port_free(host: str, port: int) -> None:
    """Bind without ``SO_REUSEPORT`` once: fails (OSError) when anything listens on the
    port, including another hms whose workers would otherwise share it silently."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _worker(app: str, host: str, port: int, options: dict[str, Any]) -> None:
    import uvicorn

    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options))
    server.run(sockets=[sock])


def serve(app: str, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve ``app`` (an import string such as ``"hms.asgi:app"``) on ``host:port``.

    Args:
        workers: processes; above 1 on Linux each gets its own ``SO_REUSEPORT`` socket.
        options: further ``uvicorn.Config`` keywords (``access_log``, ``proxy_headers``...).

    Raises:
        OSError: the port is taken (checked before any worker starts).
    """
    import uvicorn

    if workers <= 1 or not balanced_workers_supported():
        uvicorn.run(app, host=host, port=port, workers=workers, **options)
        return
    _check_port_free(host, port)
    spawn = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> multiprocessing.process.BaseProcess:
        proc = spawn.Process(target=_worker, args=(app, host, port, options),
                             name="hms-worker")
        proc.start()
        return proc

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    procs = [start() for _ in range(workers)]
    log.info("serving", host=host, port=port, workers=workers, balancing="SO_REUSEPORT")
    try:
        while not stopping:
            time.sleep(0.2)
            for i, proc in enumerate(procs):
                if not proc.is_alive() and not stopping:
                    log.warning("worker_restarted", exitcode=proc.exitcode)
                    procs[i] = start()
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()  # SIGTERM: uvicorn finishes open requests
        deadline = time.monotonic() + GRACE_SECONDS
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
