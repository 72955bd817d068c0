"""Retention: the daily purge deletes old jobs with everything of theirs, and old
idempotency records, and keeps the rest (jobs/engine/retention.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_results.models import TaskResult

from jobs.engine import execution, retention
from jobs.models import Chunk, Job, JobError, WebhookDelivery, WebhookMessage
from jobs.parsing import parse_webhook_option
from pcf.models import IdempotencyRecord
from tests.jobs.helpers import make_job

pytestmark = pytest.mark.django_db


def _finished_job(tenant, *, days_ago: float) -> Job:
    """A completed job with a failed row, a webhook message and attempt, and a task
    result, that ended `days_ago` days ago."""
    job = make_job(
        tenant.client_model,
        [{"names": ["a", "bad-1"]}, {"names": ["b"]}],
        webhook=parse_webhook_option({"url": "http://127.0.0.1:9/hook"}),
    )
    for chunk in Chunk.objects.filter(job=job):
        execution.chunk_run(chunk_id=chunk.pk)
        TaskResult.objects.create(task_id=chunk.task_id, status="SUCCESS")
    message = WebhookMessage.objects.get(job=job)
    WebhookDelivery.objects.create(job=job, message=message, event="x", url="http://x/", attempt=1)
    then = timezone.now() - timedelta(days=days_ago)
    Job.objects.filter(pk=job.pk).update(created_at=then, finished_at=then)
    job.refresh_from_db()
    assert job.status == "completed"
    return job


def _left(job: Job) -> dict[str, int]:
    return {
        "job": Job.objects.filter(pk=job.pk).count(),
        "chunks": Chunk.objects.filter(job_id=job.pk).count(),
        "errors": JobError.objects.filter(job_id=job.pk).count(),
        "messages": WebhookMessage.objects.filter(job_id=job.pk).count(),
        "attempts": WebhookDelivery.objects.filter(job_id=job.pk).count(),
        "results": TaskResult.objects.filter(task_id__startswith=f"{job.pk}.").count(),
    }


def test_the_purge_deletes_old_jobs_and_keeps_recent_and_running_ones(
    tenant, settings, allow_private_webhooks
) -> None:
    # given jobs that ended 40 and 5 days ago, and one created 40 days ago still running
    settings.PCF_JOB_RETENTION_DAYS = 30
    old = _finished_job(tenant, days_ago=40)
    recent = _finished_job(tenant, days_ago=5)
    running = make_job(tenant.client_model, [{"names": ["c"]}])
    Job.objects.filter(pk=running.pk).update(created_at=timezone.now() - timedelta(days=40))
    assert _left(old) == {
        "job": 1, "chunks": 2, "errors": 1, "messages": 1, "attempts": 1, "results": 2
    }  # fmt: skip
    # when the purge runs
    counts = retention.purge()
    # then the old job is gone with everything of its own, the others stay whole
    assert counts["jobs"] == 1
    assert set(_left(old).values()) == {0}
    assert _left(recent) == _left(recent) | {"job": 1, "chunks": 2, "errors": 1, "results": 2}
    assert Job.objects.filter(pk=running.pk).exists()


def test_the_purge_works_in_small_batches(tenant, settings, monkeypatch) -> None:
    # given an old job with more error rows than one batch holds
    settings.PCF_JOB_RETENTION_DAYS = 30
    monkeypatch.setattr(retention, "PURGE_BATCH", 7)
    job = make_job(tenant.client_model, [{"names": [f"bad-{i}" for i in range(30)]}])
    execution.chunk_run(chunk_id=Chunk.objects.get(job=job).pk)
    then = timezone.now() - timedelta(days=31)
    Job.objects.filter(pk=job.pk).update(created_at=then, finished_at=then)
    assert JobError.objects.filter(job=job).count() == 30
    # when it is purged, then every row went, batch after batch
    retention.purge()
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not JobError.objects.filter(job_id=job.pk).exists()


def test_idempotency_records_last_a_day(tenant) -> None:
    now = timezone.now()
    for key, age in (("old", timedelta(hours=25)), ("new", timedelta(hours=1))):
        IdempotencyRecord.objects.create(
            tenant=tenant.client_model, key=key, fingerprint="f", created_at=now - age
        )
    assert retention.purge()["idempotency_records"] == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
