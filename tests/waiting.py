"""Waits on the application's state (a job finished, sessions blocked on a lock), built
on tests.polling.wait_for."""

from __future__ import annotations

from typing import Any

from django.db import connection

from jobs.models import Job
from tests.polling import wait_for

FINISHED = ("completed", "failed", "cancelled")


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
