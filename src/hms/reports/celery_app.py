"""Celery application of hms: builds report exports in a worker process.

Start a worker with the same ``HMS_*`` environment as the API (database URL, data dir,
broker)::

    HMS_BROKER_URL=redis://127.0.0.1:6379/0 celery -A hms.reports.celery_app worker \\
        --pool=solo --concurrency=1 --loglevel=INFO

The API sends ``hms.reports.build_export(job_id)`` after its transaction has committed
(:func:`hms.reports.jobs.start`); the task runs :func:`hms.reports.jobs.run_report_job`
with ``asyncio.run`` on its own :class:`~hms.db.session.Database`. Results are not kept
(the ``report_jobs`` row is the result), so no result backend is configured.

``HMS_REPORTS_QUEUE`` (default ``hms-reports``) names the queue; API and worker must agree.
"""

from __future__ import annotations

import asyncio
import uuid
from functools import lru_cache
from typing import Any

from celery import Celery, Task

from hms.config import get_settings
from hms.db.session import Database
from hms.reports.errors import ReportJobNotFound

TASK_NAME = "hms.reports.build_export"
#: Task building a seed 004 report file (``reports`` row).
REPORT_TASK_NAME = "hms.reports.build_report"


def make_celery(broker_url: str | None, queue: str | None = None) -> Celery:
    """A Celery app for ``broker_url`` whose default queue is the reports queue.

    Tasks are acknowledged after they ran (a worker killed mid-export hands the job to
    another worker, which finds it running and leaves it) and prefetch one at a time.
    """
    celery = Celery("hms", broker=broker_url, backend=None, set_as_current=False)
    celery.conf.update(
        task_default_queue=queue or get_settings().reports_queue,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        enable_utc=True,
    )
    return celery


#: The worker's app (``celery -A hms.reports.celery_app worker``).
app = make_celery(get_settings().broker_url)


async def _run(job_id: uuid.UUID) -> str | None:
    from hms.reports.jobs import run_report_job

    settings = get_settings()
    db = Database(settings.effective_database_url, pool_size=2)
    try:
        status = await run_report_job(db, job_id, exports_dir=settings.exports_dir)
    finally:
        await db.dispose()
    return status.value if status is not None else None


@app.task(name=TASK_NAME, bind=True, max_retries=10, default_retry_delay=2)
def build_export(self: Task[Any, Any], job_id: str) -> str | None:
    """Run one export job; retried (up to 10 times, 2 s apart) while its row is not
    visible yet.

    Args:
        job_id: the ``report_jobs`` id, as a string.

    Returns:
        ``"completed"``, ``"failed"`` or None when the job was not queued any more.
    """
    try:
        return asyncio.run(_run(uuid.UUID(job_id)))
    except ReportJobNotFound as exc:
        raise self.retry(exc=exc) from exc


async def _run_report(report_id: uuid.UUID) -> str | None:
    from hms.reports.jobs import run_generated_report

    settings = get_settings()
    db = Database(settings.effective_database_url, pool_size=2)
    try:
        status = await run_generated_report(db, report_id, exports_dir=settings.exports_dir)
    finally:
        await db.dispose()
    return status.value if status is not None else None


@app.task(name=REPORT_TASK_NAME)
def build_report(report_id: str) -> str | None:
    """Build one seed 004 report file (the row is committed before the task is sent).

    Args:
        report_id: the ``reports`` id, as a string.

    Returns:
        ``"completed"``, ``"failed"`` or None when the report was not waiting any more.
    """
    return asyncio.run(_run_report(uuid.UUID(report_id)))


@lru_cache(maxsize=4)
def _sender(broker_url: str, queue: str) -> Celery:
    return make_celery(broker_url, queue)


def send_build_export(broker_url: str, job_id: uuid.UUID) -> None:
    """Send ``hms.reports.build_export(job_id)`` to the broker (blocking; call it from a
    thread). The sending app is cached per broker URL and queue.

    Raises:
        kombu/redis errors when the broker cannot be reached.
    """
    sender = _sender(broker_url, get_settings().reports_queue)
    sender.send_task(TASK_NAME, args=[str(job_id)], retry=True,
                     retry_policy={"max_retries": 2, "interval_start": 0.2,
                                   "interval_step": 0.5, "interval_max": 1.0})


def send_build_report(broker_url: str, report_id: uuid.UUID) -> None:
    """Send ``hms.reports.build_report(report_id)`` to the broker (blocking; call it from a
    thread).

    Raises:
        kombu/redis errors when the broker cannot be reached.
    """
    sender = _sender(broker_url, get_settings().reports_queue)
    sender.send_task(REPORT_TASK_NAME, args=[str(report_id)], retry=True,
                     retry_policy={"max_retries": 2, "interval_start": 0.2,
                                   "interval_step": 0.5, "interval_max": 1.0})
