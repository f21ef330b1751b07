"""An export built by a real Celery worker through the machine's Redis.

The API (with real commits) queues the job and sends the task after its commit; a worker
subprocess with the same database, data folder and broker builds the file. A queue name
unique to this test keeps parallel runs (SQLite and PostgreSQL, xdist workers) apart on the
shared Redis database.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from openpyxl import load_workbook

from hms.config import Settings, get_settings
from hms.core.permissions import Role
from hms.db.session import Database, unit_of_work
from hms.reports.celery_app import _sender
from tests.identity.factories import login, make_user
from tests.visits.factories import make_visit

BROKER_URL = os.environ.get("HMS_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.committed


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh queue name, set for this process (the API side) and removed afterwards."""
    name = f"hms-reports-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("HMS_REPORTS_QUEUE", name)
    get_settings.cache_clear()
    yield name
    monkeypatch.delenv("HMS_REPORTS_QUEUE")
    get_settings.cache_clear()
    _sender.cache_clear()
    client = redis.Redis.from_url(BROKER_URL)
    for key in client.scan_iter(match=f"*{name}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def worker(settings: Settings, queue: str) -> Iterator[subprocess.Popen[bytes]]:
    """A Celery worker subprocess on the test's database, data folder and queue."""
    env = {
        **os.environ,
        "HMS_DATABASE_URL": settings.effective_database_url,
        "HMS_DATA_DIR": str(settings.data_dir),
        "HMS_BROKER_URL": BROKER_URL,
        "HMS_REPORTS_QUEUE": queue,
        "HMS_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "hms.reports.celery_app", "worker",
         "--pool=solo", "-c", "1", "--loglevel=WARNING", "--without-heartbeat",
         "--without-gossip", "--without-mingle", "-n", f"{queue}@%h"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
async def broker_client(committed_app: FastAPI, settings: Settings
                        ) -> AsyncIterator[AsyncClient]:
    """A client on the committed app, configured to send exports to the broker."""
    committed_app.state.settings = settings.model_copy(update={"broker_url": BROKER_URL})
    async with AsyncClient(transport=ASGITransport(app=committed_app),
                           base_url="http://testserver") as c:
        yield c


class TestCeleryWorkerExport:
    async def test_a_worker_builds_the_export_and_the_api_serves_it(
        self, broker_client: AsyncClient, db: Database, worker: subprocess.Popen[bytes],
    ) -> None:
        async with unit_of_work(db) as s:
            user = await make_user(s, Role.ADMIN)
            await make_visit(s, department="Radiology", started_at=datetime.now(UTC))
        tokens = await login(broker_client, user.username)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}

        resp = await broker_client.get("/api/v1/reports/export/visits", headers=headers,
                                       params={"format": "xlsx"})
        assert resp.status_code == 202, resp.text
        status_url = resp.json()["status_url"]

        deadline = time.monotonic() + 60
        job = (await broker_client.get(status_url, headers=headers)).json()
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stdout.read().decode() if worker.stdout else ""
            await asyncio.sleep(0.5)
            job = (await broker_client.get(status_url, headers=headers)).json()

        assert job["status"] == "completed", job
        download = await broker_client.get(job["download_url"], headers=headers)
        assert download.status_code == 200
        wb = load_workbook(io.BytesIO(download.content))
        departments = {r[0].value: r[1].value for r in wb["By department"].iter_rows(min_row=2)}
        assert departments == {"Radiology": 1}

    async def test_a_worker_builds_a_seed_004_report_file(
        self, broker_client: AsyncClient, db: Database, worker: subprocess.Popen[bytes],
    ) -> None:
        async with unit_of_work(db) as s:
            user = await make_user(s, Role.ADMIN)
        tokens = await login(broker_client, user.username)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}

        resp = await broker_client.post("/api/v1/reports/generate", headers=headers,
                                        json={"report_type": "operational_metrics",
                                              "format": "xlsx"})
        assert resp.status_code == 202, resp.text
        url = f"/api/v1/reports/{resp.json()['id']}"
        deadline = time.monotonic() + 60
        report = (await broker_client.get(url, headers=headers)).json()
        while report["status"] == "generating" and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stdout.read().decode() if worker.stdout else ""
            await asyncio.sleep(0.5)
            report = (await broker_client.get(url, headers=headers)).json()

        assert report["status"] == "completed", report
        download = await broker_client.get(report["download_url"], headers=headers)
        assert download.status_code == 200
        wb = load_workbook(io.BytesIO(download.content))
        metrics = {r[0].value: r[1].value for r in wb["Metrics"].iter_rows(min_row=2)}
        assert metrics["Appointments"] == 0
