"""Reads of jobs, always within one tenant: another tenant's job is NotFound."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from jobs.handlers import job_types
from jobs.models import Chunk, ChunkStatus, Job, JobError, JobStatus, WebhookDelivery
from pcf.exceptions import NotFound, field_error
from pcf.models import ApiClient
from pcf.pagination import CursorScope, cut_page, decode_cursor

# Job ids are `job_` + 24 hex digits; anything outside the column's alphabet and length
# can match no row (and a NUL would be a driver error, not a 404).
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def is_job_id(value: str) -> bool:
    return _JOB_ID.fullmatch(value) is not None


def job_get(*, tenant: ApiClient, job_id: str) -> Job:
    job = Job.objects.filter(tenant=tenant, pk=job_id).first() if is_job_id(job_id) else None
    if job is None:
        raise NotFound(f"Job {job_id!r} not found")
    return job


def _choice(name: str, raw: str | None, choices: list[str]) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise field_error(name, f"Must be one of {', '.join(choices)}")
    return raw


def job_list(
    *, tenant: ApiClient, status: str | None, type: str | None, limit: int, cursor: str | None
) -> tuple[list[Job], str | None]:
    """Newest first; keyset pagination on (created_at, id)."""
    queryset = Job.objects.filter(tenant=tenant)
    if chosen := _choice("status", status, JobStatus.values):
        queryset = queryset.filter(status=chosen)
    if chosen := _choice("type", type, job_types()):
        queryset = queryset.filter(type=chosen)
    scope = CursorScope("jobs", tenant.pk)
    if cursor:
        created, last_id = _job_position(decode_cursor(scope, cursor))
        queryset = queryset.filter(
            Q(created_at__lt=created) | Q(created_at=created, id__lt=last_id)
        )
    rows = list(queryset.order_by("-created_at", "-id")[: limit + 1])
    return cut_page(rows, limit, scope, lambda job: f"{_micros(job.created_at)}|{job.id}")


# A job list position is (created_at, id), spelt "<microseconds since the epoch>|<id>":
# exact (PostgreSQL keeps microseconds) and short enough for a cursor.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def _job_position(text: str) -> tuple[datetime, str]:
    # Sealed by job_list itself (decode_cursor checked that), so it parses.
    micros, _, last_id = text.partition("|")
    return _EPOCH + timedelta(microseconds=int(micros)), last_id


def job_errors_page(
    *, job: Job, limit: int, cursor: str | None
) -> tuple[list[JobError], str | None]:
    """In row order; keyset pagination on the error's pk, within this job only."""
    queryset = JobError.objects.filter(job=job)
    scope = CursorScope("job-errors", job.tenant_id, within=job.pk)
    if cursor:
        queryset = queryset.filter(pk__gt=int(decode_cursor(scope, cursor)))
    rows = list(queryset.order_by("pk")[: limit + 1])
    return cut_page(rows, limit, scope, lambda error: str(error.pk))


def job_results(*, job: Job) -> dict[str, Any]:
    """Per-item results of every chunk in seq order, with numeric meta summed."""
    results: list[Any] = []
    meta: dict[str, Any] = {}
    chunks = Chunk.objects.filter(job=job, status=ChunkStatus.DONE).order_by("seq")
    for result in chunks.values_list("result", flat=True).iterator():
        if not result:
            continue
        results.extend(result.get("results") or [])
        for key, value in (result.get("meta") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                meta[key] = meta.get(key, 0) + value
            else:
                meta.setdefault(key, value)
    return {"results": results, "meta": meta}


def job_deliveries(*, job: Job) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(job=job).order_by("pk")
