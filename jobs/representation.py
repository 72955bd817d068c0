"""Jobs on the wire: the job object of the cookbook, errors, deliveries, the webhook
secret."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from jobs.models import Job, JobError, JobStatus, WebhookDelivery
from jobs.progress import percentage
from pcf.timefmt import iso_z


def job_accepted(job: Job) -> dict[str, Any]:
    """The 202 body of an endpoint that started a job (imports add their own fields)."""
    return {"job_id": job.id, "status": job.status}


def rows_per_second(job: Job) -> float | None:
    if job.started_at is None or job.processed == 0:
        return None
    end = job.finished_at or timezone.now()
    elapsed = (end - job.started_at).total_seconds()
    if elapsed <= 0:
        return None
    return round(job.processed / elapsed, 1)


def estimated_completion(job: Job) -> str | None:
    """Now plus what is left at the rate measured so far; None when unknown or done."""
    if job.status != JobStatus.PROCESSING:
        return None
    rate = rows_per_second(job)
    remaining = job.total - job.processed
    if not rate or remaining <= 0:
        return None
    return iso_z(timezone.now() + timedelta(seconds=remaining / rate))


def job_summary(job: Job) -> dict[str, Any] | None:
    """The summary of a finished job (job object, webhook payload), derived from its
    counters whenever it is read, so it always agrees with `progress`. None while the
    job runs. `duration_ms` runs until `finished_at`, i.e. until the job settled."""
    if not job.is_finished:
        return None
    started = job.started_at or job.created_at
    end = job.finished_at or timezone.now()
    return {
        "total_operations": job.total or job.processed,
        "successful": job.successful,
        "failed": job.failed,
        "skipped": job.skipped,
        "duration_ms": max(0, int((end - started).total_seconds() * 1000)),
    }


def job_data(job: Job) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": job.id,
        "type": job.type,
        "status": job.status,
        "progress": {
            "total": job.total,
            "processed": job.processed,
            "successful": job.successful,
            "failed": job.failed,
            "skipped": job.skipped,
            "percentage": percentage(job.processed, job.total, job.is_finished),
        },
        "created_at": iso_z(job.created_at),
        "started_at": iso_z(job.started_at),
        "finished_at": iso_z(job.finished_at),
        "estimated_completion": estimated_completion(job),
        "rows_per_second": rows_per_second(job),
    }
    if job.message:
        data["message"] = job.message
    if job.request_id:
        # The X-Request-ID of the call that submitted it: find its log lines by it.
        data["request_id"] = job.request_id
    if (summary := job_summary(job)) is not None:
        data["summary"] = summary
    return data


def error_data(error: JobError) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if error.row is not None:
        data["row"] = error.row
    if error.index is not None:
        data["index"] = error.index
    data.update(
        {"field": error.field, "code": error.code, "message": error.message, "values": error.values}
    )
    return data


def delivery_data(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "event": delivery.event,
        "url": delivery.url,
        "attempt": delivery.attempt,
        "attempted_at": iso_z(delivery.created_at),
        "status_code": delivery.status_code,
        "error": delivery.error or None,
        "succeeded": delivery.succeeded,
        "duration_ms": delivery.duration_ms,
        "next_retry_at": iso_z(delivery.next_retry_at),
    }


def webhook_secret_data(secret: str) -> dict[str, str]:
    """The tenant's webhook secret and how deliveries are signed with it."""
    return {
        "secret": secret,
        "algorithm": "HMAC-SHA256",
        "header": "X-PCF-Signature",
        "signed_payload": "<t>.<body>",
    }
