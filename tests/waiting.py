"""Polling helpers: a test waits for the event it needs, never for a fixed time, with an
upper bound that only a hang reaches (tests also pass on a loaded 2-core machine)."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

from django.db import connection

from jobs.models import Job

FINISHED = ("completed", "failed", "cancelled")


def wait_for(predicate: Any, timeout: float = 30, interval: float = 0.05) -> Any:
    """Call `predicate` until it returns something truthy; return that, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


async def wait_for_async(predicate: Any, timeout: float = 30, interval: float = 0.05) -> Any:
    """`wait_for` inside an event loop: it sleeps with asyncio, so the loop keeps serving
    what the test waits on (streams it reads). `predicate` may return an awaitable."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def waiting_on_locks() -> int:
    """How many sessions of this test database wait on a lock (a held row, another
    transaction's uncommitted key): what a test waits for to know they are blocked."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def wait_finished(job: Job | str, timeout: float = 30) -> Job:
    """The job re-read from PostgreSQL once it has finished (a Job given is refreshed in
    place, so callers may keep using it)."""
    current = Job.objects.get(pk=job) if isinstance(job, str) else job

    def finished() -> Job | None:
        current.refresh_from_db()
        return current if current.is_finished else None

    return wait_for(finished, timeout)


def wait_for_job(api: Any, job_id: str, timeout: float = 30) -> dict[str, Any]:
    """The job object from GET /v1/jobs/{id} once its status is final."""

    def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/v1/jobs/{job_id}").json()
        return body if body["status"] in FINISHED else None

    return wait_for(finished, timeout)
