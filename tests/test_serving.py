"""``hms serve --workers N``: connections spread over every worker; a taken port fails
fast; SIGTERM stops the workers (hms.core.serving)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hms.core.serving import balanced_workers_supported

pytestmark = pytest.mark.skipif(not balanced_workers_supported(),
                                reason="SO_REUSEPORT balancing is Linux's")

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout
    return [int(x) for x in out.split()]


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        found = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd)) if fd.is_symlink() else None
        if found:
            inodes.add(found[1])
    return inodes


def _sockets_on(port: int, state: str) -> set[str]:
    """Inodes of TCP sockets whose local port is ``port`` in ``state`` (01 established,
    0A listening)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            inodes.add(fields[9])
    return inodes


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {**os.environ, "HMS_DATA_DIR": str(tmp_path), "HMS_ENVIRONMENT": "development",
           "HMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hms.db'}"}
    subprocess.run([sys.executable, "-m", "hms", "migrate"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "hms", "serve", "--port", str(port),
                             "--workers", "2"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(_sockets_on(port, "0A")) >= 2:  # both workers listen
            break
        time.sleep(0.2)
    yield proc, port, env
    # A graceful stop ends the workers too; SIGKILL on the parent alone would orphan them.
    workers = _children(proc.pid) if proc.poll() is None else []
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_burst_of_connections_reaches_both_workers(server):
    proc, port, _ = server
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(24)]
    try:
        for c in conns:
            c.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for c in conns:
            assert c.recv(64).startswith(b"HTTP/1.1 200")
        established = _sockets_on(port, "01")
        workers = [w for w in _children(proc.pid) if _socket_inodes(w) & established]
        per_worker = [len(_socket_inodes(w) & established) for w in workers]
        # uvicorn's shared socket put every connection of such a burst on one worker; with
        # one socket per worker the chance of that is 2 in 2**24.
        assert len(per_worker) == 2 and min(per_worker) > 0, per_worker
    finally:
        for c in conns:
            c.close()


def test_a_taken_port_fails_before_any_worker_starts(server):
    _, port, env = server
    second = subprocess.run([sys.executable, "-m", "hms", "serve", "--port", str(port),
                             "--workers", "2"], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert second.returncode != 0
    assert "Address already in use" in second.stdout + second.stderr


def test_sigterm_stops_every_worker(server):
    proc, _, _ = server
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0

    def alive(pid: int) -> bool:
        status = Path(f"/proc/{pid}/status")
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            return "zombie" not in status.read_text()
        return False

    # The workers are joined before the parent exits; multiprocessing's resource tracker
    # (also a child) ends when the parent's end of its pipe closes, a moment later.
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)]
