"""One set of counts per job: progress, summary, /results meta and the webhook payload
agree, for a strict import failed at upload, an async batch with skipped operations,
and a cancel that lands while a chunk is running."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from jobs import progress
from jobs.engine import execution
from jobs.models import Chunk, Job
from jobs.parsing import parse_webhook_option
from jobs.webhooks import payload_for
from pcf.redis import redis_client
from tests.imports.helpers import run_chunks, upload
from tests.jobs.handlers import release, written_key
from tests.jobs.helpers import make_job
from tests.polling import wait_for

COUNT_KEYS = ("successful", "failed", "skipped")


def _counts(body: dict[str, Any]) -> tuple[int, ...]:
    return tuple(body[key] for key in COUNT_KEYS)


def _run_chunk_in_thread(chunk_id: int) -> None:
    try:
        execution.chunk_run(chunk_id=chunk_id)
    finally:
        connection.close()  # the thread's own connection


@pytest.mark.django_db
def test_strict_import_failed_by_its_check_pass_reports_its_real_counts(
    tenant, allow_private_webhooks
) -> None:
    # given a strict CSV of 5 rows, 3 of them invalid, with a webhook
    csv_text = "name,type\nA,document\n,image\nB,bogus\nC,document\n,video\n"
    options = {
        "mapping": {"name": "name", "type": "type"},
        "validation": "strict",
        "webhook": {"url": "http://127.0.0.1:9/hook"},
    }
    # when it is uploaded and its chunks are checked
    response = upload(tenant.api, csv_text, options)
    assert response.status_code == 202, response.json()
    run_chunks(response.json()["job_id"])
    body = tenant.api.get(f"/v1/jobs/{response.json()['job_id']}").json()
    # then the job failed, and progress and summary carry the same real counts:
    # 3 invalid rows failed, the 2 valid ones skipped (nothing was written)
    assert body["status"] == "failed"
    assert (body["summary"]["total_operations"], body["summary"]["failed"]) == (5, 3)
    assert body["progress"]["total"] == body["progress"]["processed"] == 5
    assert _counts(body["progress"]) == (0, 3, 2)
    assert _counts(body["summary"]) == (0, 3, 2)
    # and so does the csv_import.failed webhook payload
    payload = payload_for(Job.objects.get(pk=body["id"]))
    assert payload["event"] == "csv_import.failed"
    assert payload["summary"] == body["summary"]


@pytest.mark.django_db
def test_async_batch_skipped_operations_agree_everywhere(tenant) -> None:
    # given an async batch that stops at its first failure: 1 ok, 1 failed, 1 skipped
    operations = [
        {"method": "POST", "path": "/resources", "body": {"name": "a", "type": "document"}},
        {"method": "DELETE", "path": "/resources/missing"},
        {"method": "POST", "path": "/resources", "body": {"name": "b", "type": "document"}},
    ]
    accepted = tenant.api.post(
        "/v1/batch",
        {"operations": operations, "options": {"async": True, "continue_on_error": False}},
        format="json",
    )
    assert accepted.status_code == 202, accepted.json()
    job_id = accepted.json()["job_id"]
    # when its chunk runs (in-process: the service the worker task calls)
    for chunk in Chunk.objects.filter(job_id=job_id).order_by("seq"):
        execution.chunk_run(chunk_id=chunk.pk)
    # then /results meta, progress, summary and the webhook payload all say 1 / 1 / 1
    meta = tenant.api.get(f"/v1/jobs/{job_id}/results").json()["meta"]
    body = tenant.api.get(f"/v1/jobs/{job_id}").json()
    assert _counts(meta) == (1, 1, 1)
    assert (body["progress"]["failed"], body["summary"]["failed"]) == (1, 1)
    assert _counts(body["progress"]) == (1, 1, 1)
    assert body["progress"]["processed"] == 3 == body["progress"]["total"]
    assert _counts(body["summary"]) == (1, 1, 1)
    assert payload_for(Job.objects.get(pk=job_id))["summary"] == body["summary"]
    assert Chunk.objects.get(job_id=job_id).skipped == 1


@pytest.mark.django_db(transaction=True)
def test_cancel_during_a_running_chunk_counts_it_and_finishes_after_it(
    tenant, allow_private_webhooks
) -> None:
    # given a job whose first chunk is running (written, still inside its transaction
    # until the test releases it)
    webhook = parse_webhook_option("http://127.0.0.1:9/hook")
    job = make_job(
        tenant.client_model,
        [{"names": ["a", "b"], "hold": True}, {"names": ["c"]}],
        webhook=webhook,
    )
    first, second = Chunk.objects.filter(job=job).order_by("seq")
    runner = threading.Thread(target=_run_chunk_in_thread, args=(first.pk,))
    runner.start()
    wait_for(lambda: redis_client().get(written_key(job.id, 0)))
    # when the job is cancelled through the API
    cancelled = tenant.api.post(f"/v1/jobs/{job.id}/cancel").json()
    # then it answers cancelled, not yet settled: nothing counted, no finished_at
    assert cancelled["status"] == "cancelled"
    assert cancelled["progress"]["processed"] == 0 and cancelled["finished_at"] is None
    assert cancelled["summary"]["successful"] == 0
    assert Chunk.objects.get(pk=second.pk).status == "cancelled"
    # and when the running chunk commits, it is counted in progress and summary alike,
    # and the job is finished only then
    release(job.id, 0)
    runner.join(timeout=60)
    body = tenant.api.get(f"/v1/jobs/{job.id}").json()
    assert body["status"] == "cancelled"
    assert body["progress"]["processed"] == 2 and body["progress"]["successful"] == 2
    assert _counts(body["summary"]) == _counts(body["progress"]) == (2, 0, 0)
    assert body["finished_at"] is not None and body["finished_at"] >= cancelled["created_at"]
    # and the final progress snapshot and the cancelled webhook carry the final counts
    final = progress.cached(job.id)
    assert final is not None and (final["status"], final["processed"]) == ("cancelled", 2)
    payload = payload_for(Job.objects.get(pk=job.id))
    assert payload["event"] == "bulk_import.cancelled"
    assert payload["summary"] == body["summary"]


@pytest.mark.django_db
def test_summary_is_derived_from_the_counters(tenant) -> None:
    # given a finished job
    job = make_job(tenant.client_model, [{"names": ["a", "bad-b"]}])
    execution.chunk_run(chunk_id=Chunk.objects.get(job=job).pk)
    job.refresh_from_db()
    # when its counters change afterwards (an operator's re-run would do this)
    Job.objects.filter(pk=job.pk).update(successful=2, failed=0)
    job.refresh_from_db()
    # then the summary follows them: there is no stored copy to go stale
    from jobs.representation import job_summary

    summary = job_summary(job)
    assert summary is not None
    assert (summary["successful"], summary["failed"]) == (2, 0)
    # and an unfinished job has no summary
    assert job_summary(make_job(tenant.client_model, [{"names": ["x"]}])) is None


@pytest.mark.django_db
def test_sweeper_settles_a_cancelled_job_whose_running_chunk_died(tenant) -> None:
    # given a cancelled job still waiting on a chunk whose worker died long ago
    from datetime import timedelta

    from django.utils import timezone

    from jobs.engine import sweeper

    job = make_job(tenant.client_model, [{"names": ["a"]}, {"names": ["b"]}])
    first, second = Chunk.objects.filter(job=job).order_by("seq")
    execution.chunk_run(chunk_id=first.pk)
    long_ago = timezone.now() - timedelta(hours=1)
    Chunk.objects.filter(pk=second.pk).update(attempts=1, last_attempt_at=long_ago)
    Job.objects.filter(pk=job.pk).update(status="cancelled")
    # when the sweeper runs
    swept = sweeper.sweep()
    # then the dead chunk is cancelled and the job settled with the counts it has
    job.refresh_from_db()
    assert swept["settled"] == 1 and job.finished_at is not None
    assert Chunk.objects.get(pk=second.pk).status == "cancelled"
    assert (job.processed, job.successful) == (1, 1)
