"""Retention: what the engine deletes, and when.

- A chunk's input is dropped in the transaction that marks it done or cancelled
  (jobs.engine.ledger); a failed chunk keeps it for a re-run until its job is purged.
- The daily purge (Celery beat) deletes finished jobs older than
  PCF_JOB_RETENTION_DAYS with their chunks, errors, webhook messages and attempts and
  Celery task results, and idempotency records older than PCF_IDEMPOTENCY_TTL_SECONDS.
  Everything goes in small batches, each its own short transaction, so no table is
  locked for long and a job with a million error rows is purged like any other."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_celery_results.models import TaskResult

from jobs.engine import locks
from jobs.models import FINISHED_STATUSES, Job, Worker
from pcf.models import IdempotencyRecord

logger = logging.getLogger("pcf.jobs.retention")

# Rows per DELETE: small enough that each statement holds its locks for milliseconds.
PURGE_BATCH = 5000


def _delete_batches(sql: str, params: list[Any]) -> int:
    """Run a DELETE with a LIMITed sub-select until it deletes nothing; return the
    total (each batch commits on its own, in autocommit)."""
    total = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, PURGE_BATCH])
            deleted: int = cursor.rowcount
        total += deleted
        if deleted < PURGE_BATCH:
            return total


def _child_delete(table: str) -> str:
    return (
        f"DELETE FROM {table} WHERE id IN "  # noqa: S608 - table names are constants below
        f"(SELECT id FROM {table} WHERE job_id = %s LIMIT %s)"
    )


_TASK_RESULTS_SQL = (
    f"DELETE FROM {TaskResult._meta.db_table} WHERE id IN "  # noqa: S608 - model metadata
    f"(SELECT r.id FROM {TaskResult._meta.db_table} r "
    "JOIN jobs_chunk c ON r.task_id IN"
    " (c.job_id || '.chunk.' || c.seq, c.job_id || '.check.' || c.seq)"
    " WHERE c.job_id = %s LIMIT %s)"
)


def purge_job(job_id: str) -> None:
    """Delete one job and everything that belongs to it, children first, in batches."""
    _delete_batches(_TASK_RESULTS_SQL, [job_id])
    for table in ("jobs_joberror", "jobs_webhookdelivery", "jobs_webhookmessage", "jobs_dispatch"):
        _delete_batches(_child_delete(table), [job_id])
    _delete_batches(_child_delete("jobs_chunk"), [job_id])
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM jobs_job WHERE id = %s", [job_id])


def expired_jobs(*, before: datetime, limit: int) -> list[str]:
    """Finished jobs that ended (or, never started, were created) before `before`."""
    return list(
        Job.objects.filter(status__in=FINISHED_STATUSES, created_at__lt=before)
        .exclude(finished_at__gte=before)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def purge(*, now: datetime | None = None, time_budget: float = 600.0) -> dict[str, int]:
    """Delete what retention allows; stop after `time_budget` seconds (the next run goes
    on). One purge at a time (an advisory lock)."""
    if not locks.try_hold(locks.PURGE):
        return {"skipped": 1}
    try:
        now = now or timezone.now()
        deadline = time.monotonic() + time_budget
        job_cutoff = now - timedelta(days=int(settings.PCF_JOB_RETENTION_DAYS))
        jobs = 0
        while time.monotonic() < deadline:
            batch = expired_jobs(before=job_cutoff, limit=100)
            for job_id in batch:
                purge_job(job_id)
                jobs += 1
            if len(batch) < 100:
                break
        key_cutoff = now - timedelta(seconds=int(settings.PCF_IDEMPOTENCY_TTL_SECONDS))
        keys = _delete_batches(
            f"DELETE FROM {IdempotencyRecord._meta.db_table} WHERE id IN "  # noqa: S608
            f"(SELECT id FROM {IdempotencyRecord._meta.db_table} WHERE created_at < %s LIMIT %s)",
            [key_cutoff],
        )
        workers, _ = Worker.objects.filter(seen_at__lt=now - timedelta(days=1)).delete()
        counts = {"jobs": jobs, "idempotency_records": keys, "workers": workers}
        logger.info("purge: %s", counts)
        return counts
    finally:
        locks.let_go(locks.PURGE)
