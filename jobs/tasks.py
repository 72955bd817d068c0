"""Celery tasks of the job engine: thin wrappers that call services.

Queues: `chunks` (run_chunk), `webhooks` (deliver_webhook), `celery` (sweep); see
CELERY_TASK_ROUTES in pcf/settings.py and the Procfile."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import task_prerun
from django.conf import settings
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    connections,
)

from jobs import services, sweeper
from jobs.models import Job
from jobs.task_results import record_of

logger = logging.getLogger("pcf.jobs.tasks")

# PostgreSQL restarting, deadlocks and serialization failures surface as these; the
# chunk's transaction is rolled back, so running it again is safe.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


@task_prerun.connect
def _drop_broken_connections(**_: Any) -> None:
    # Workers keep their database connection across tasks (CELERY_DB_REUSE_MAX): a
    # fresh backend per chunk cost a connect plus cold catalog caches. A connection
    # that failed (PostgreSQL restarted) is dropped here so the retry reconnects.
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and conn.errors_occurred and not conn.is_usable():
            conn.close()


def _failure_message(exc: Exception) -> str:
    kind = "database error" if isinstance(exc, TRANSIENT_DB_ERRORS) else type(exc).__name__
    return f"{kind}: {exc}".strip()


class ChunkTask(Task):
    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # The one place a chunk becomes `failed`: retries exhausted, or a handler bug.
        close_old_connections()
        chunk_id = args[0] if args else kwargs["chunk_id"]
        try:
            services.chunk_record_failure(chunk_id=chunk_id, message=_failure_message(exc))
        except TRANSIENT_DB_ERRORS:
            # Still pending in the database: the sweeper will run it again later.
            logger.exception("could not record the failure of chunk %s", chunk_id)


class CheckTask(Task):
    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # A check that cannot run (retries exhausted, or a handler bug) fails its job:
        # nothing was applied, and the verdict can never be complete.
        close_old_connections()
        chunk_ids = args[0] if args else kwargs["chunk_ids"]
        try:
            services.check_record_failure(chunk_ids=chunk_ids, message=_failure_message(exc))
        except TRANSIENT_DB_ERRORS:
            logger.exception("could not record the failed check of chunks %s", chunk_ids)


# Chunk and check tasks alike: redelivered if their worker dies, transient database
# errors retried with backoff; their result row is written by the engine in the chunk's
# own transaction (jobs.task_results), the backend still stores failures.
_CHUNK_TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_DB_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": settings.PCF_CHUNK_MAX_RETRIES,
    "ignore_result": True,
    "store_errors_even_if_ignored": True,
}


@shared_task(base=ChunkTask, **_CHUNK_TASK_OPTIONS)
def run_chunk(self: Task, chunk_id: int) -> str:
    return services.chunk_run(chunk_id=chunk_id, record=record_of(self))


@shared_task(base=CheckTask, **_CHUNK_TASK_OPTIONS)
def check_chunks(self: Task, chunk_ids: list[int]) -> str:
    return services.chunks_check(chunk_ids=chunk_ids, record=record_of(self))


@task_prerun.connect
def _commit_mode(sender: Any = None, **_: Any) -> None:
    # Chunk and check tasks commit without waiting for the WAL flush (a session setting,
    # so no statement per chunk; see chunk_run for why that is safe, and jobs.services
    # _finish/_settle for the commits that do flush). Every other task on this worker
    # gets the server's default back. By name: the sender is the registered Task, not
    # the proxy shared_task returned.
    wanted = getattr(sender, "name", None) in ASYNC_COMMIT_TASKS
    if connection.connection is None:
        if not wanted:
            return  # connects on first use; a new session starts with the default
        connection.ensure_connection()
    current = getattr(connection.connection, "_pcf_async_commit", False)
    if current != wanted:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off" if wanted else "RESET synchronous_commit")
        connection.connection._pcf_async_commit = wanted


ASYNC_COMMIT_TASKS = frozenset({run_chunk.name, check_chunks.name})


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def deliver_webhook(self: Task, job_id: str, event: str, attempt: int) -> str:
    from jobs.webhooks import webhook_attempt

    job = Job.objects.select_related("tenant").filter(pk=job_id).first()
    if job is None or not job.webhook:
        return "skipped: no such job or no webhook"
    outcome = webhook_attempt(job=job, event=event, attempt=attempt)
    if outcome.retry_in is not None:
        deliver_webhook.apply_async(args=(job_id, event, attempt + 1), countdown=outcome.retry_in)
        return f"attempt {attempt} failed ({outcome.delivery.error}); retry in {outcome.retry_in}s"
    if outcome.delivery.succeeded:
        return f"delivered on attempt {attempt}"
    return f"attempt {attempt} failed ({outcome.delivery.error}); giving up"


@shared_task(acks_late=True)
def sweep() -> dict[str, int]:
    return sweeper.sweep()
