"""The engine with real worker processes: exact counts, crashes, lost queues, cancel."""

from __future__ import annotations

import pytest

from jobs.engine import execution
from jobs.models import Chunk, ChunkStatus, JobError
from jobs.representation import job_summary
from resources.models import Resource
from tests.jobs.helpers import make_job
from tests.polling import wait_for
from tests.waiting import wait_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _names(chunk: int, size: int) -> list[str]:
    return [f"r-{chunk}-{i}" for i in range(size)]


def test_job_of_many_chunks_completes_with_exact_counts(tenant, celery_worker) -> None:
    # given 20 chunks of 10 rows, one bad row in every fourth chunk
    chunks = []
    for c in range(20):
        names = _names(c, 10)
        if c % 4 == 0:
            names[3] = f"bad-{c}"
        chunks.append({"names": names})
    # when the job starts
    job = make_job(tenant.client_model, chunks)
    # then it completes with every row counted once
    job = wait_finished(job)
    assert job.status == "completed"
    assert (job.total, job.processed, job.successful, job.failed) == (200, 200, 195, 5)
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 195
    assert JobError.objects.filter(job=job).count() == 5
    assert set(Chunk.objects.filter(job=job).values_list("status", flat=True)) == {ChunkStatus.DONE}
    summary = job_summary(job)
    assert summary == {
        "total_operations": 200,
        "successful": 195,
        "failed": 5,
        "skipped": 0,
        "duration_ms": summary["duration_ms"] if summary else None,
    }


def _committed_rows(tenant) -> int:
    return Resource.objects.filter(tenant=tenant.client_model).count()


@pytest.mark.parametrize("victim", ["whole worker", "pool process"])
def test_sigkill_mid_chunk_then_fresh_worker_gives_exact_rows(tenant, celery_beat, victim) -> None:
    # given a job whose chunks write their rows, then work for a while before committing
    # (the first one until the test releases it)
    from django.db.models import Count

    from pcf.redis import redis_client
    from tests.jobs.handlers import release, written_key

    celery_beat.kill9()
    worker = celery_beat.start(concurrency=1)
    chunks = [{"names": _names(c, 5), "sleep": 1.0} for c in range(4)]
    chunks[0]["hold"] = True
    job = make_job(tenant.client_model, chunks)
    first = Chunk.objects.get(job=job, seq=0)
    # when the worker is killed with SIGKILL while chunk 0 has written but not committed
    wait_for(lambda: redis_client().get(written_key(job.id, 0)), timeout=30)
    if victim == "whole worker":
        worker.kill9()
        # then nothing of the chunk is left behind
        assert _committed_rows(tenant) == 0
        celery_beat.start(concurrency=1)
    else:
        for child in worker.pool_children():
            child.kill()
    release(job.id, 0)
    # and a fresh worker (the sweeper, or the requeued message) finishes the job exactly
    job = wait_finished(job, timeout=60)
    assert job.status == "completed"
    assert (job.processed, job.successful, job.failed) == (20, 20, 0)
    assert _committed_rows(tenant) == 20
    duplicated = (
        Resource.objects.filter(tenant=tenant.client_model)
        .values("name")
        .annotate(n=Count("seq"))
        .filter(n__gt=1)
    )
    assert list(duplicated) == []
    assert Chunk.objects.get(pk=first.pk).attempts >= 2


def test_redis_flushed_mid_job_still_finishes_through_the_sweeper(tenant, celery_beat) -> None:
    # given a job of 30 short chunks running on one worker
    from pcf.redis import redis_client

    celery_beat.kill9()
    celery_beat.start(concurrency=1)
    job = make_job(tenant.client_model, [{"names": _names(c, 3), "sleep": 0.1} for c in range(30)])
    wait_for(lambda: Chunk.objects.filter(job=job, status=ChunkStatus.DONE).count() >= 3)
    # when Redis loses every queued message (FLUSHDB of the broker's database: the Redis
    # server is shared with other test runs, so FLUSHALL would hit them too)
    redis_client().flushdb()
    assert redis_client().llen("chunks") == 0
    # then the sweeper re-sends what PostgreSQL says is left, and the counts are exact
    job = wait_finished(job, timeout=60)
    assert job.status == "completed"
    assert (job.processed, job.successful) == (90, 90)
    assert _committed_rows(tenant) == 90


def test_cancel_stops_chunks_not_yet_started(tenant, celery_worker) -> None:
    # given a job of 20 slow chunks on one worker process

    celery_worker.kill9()
    celery_worker.start(concurrency=1)
    job = make_job(tenant.client_model, [{"names": _names(c, 2), "sleep": 0.3} for c in range(20)])
    wait_for(lambda: Chunk.objects.filter(job=job, status=ChunkStatus.DONE).count() >= 2)
    # when the job is cancelled through the API
    response = tenant.api.post(f"/v1/jobs/{job.id}/cancel")
    # then it answers the cancelled job, and no chunk starts afterwards
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    done_at_cancel = Chunk.objects.filter(job=job, status=ChunkStatus.DONE).count()
    import time

    # Part of the scenario: a started chunk would be done within 1.5 s (0.3 s each),
    # and no event marks a chunk that never starts.
    time.sleep(1.5)
    done = Chunk.objects.filter(job=job, status=ChunkStatus.DONE).count()
    assert done <= done_at_cancel + 1  # at most the chunk that was already running
    assert done < 20
    assert Chunk.objects.filter(job=job, status=ChunkStatus.PENDING).count() == 0
    assert _committed_rows(tenant) == 2 * done
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert job.processed == 2 * done
    # and once settled, the job object's summary and progress carry the same counts
    body = tenant.api.get(f"/v1/jobs/{job.id}").json()
    assert body["finished_at"] is not None
    assert body["summary"]["successful"] == body["progress"]["successful"] == 2 * done
    # and cancelling again is a conflict
    again = tenant.api.post(f"/v1/jobs/{job.id}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"


def test_database_errors_pause_a_chunk_and_never_fail_it(tenant, celery_worker) -> None:
    # given a chunk whose first three runs lose their database connection
    from pcf.redis import redis_client
    from tests.jobs.handlers import runs_key

    job = make_job(tenant.client_model, [{"rows": 4, "fail_times": 3}], handler="test.flaky")
    # when it runs
    job = wait_finished(job, timeout=60)
    # then it was run again until it got through, applied once, and none of those runs
    # counted as an attempt (they were not the chunk's fault)
    assert job.status == "completed"
    assert (job.processed, job.successful, job.failed) == (4, 4, 0)
    assert int(redis_client().get(runs_key(job.id, 0)) or 0) == 4
    assert Chunk.objects.get(job=job).attempts == 1


def test_a_code_error_fails_its_chunk_after_retries_with_a_reference(tenant, celery_worker) -> None:
    # given a chunk whose handler always raises (workers retry it once)
    job = make_job(
        tenant.client_model,
        [{"rows": 3, "fail_times": 99, "error": "code"}, {"rows": 2, "fail_times": 0}],
        handler="test.flaky",
    )
    # when its retries are exhausted
    job = wait_finished(job, timeout=60)
    # then the chunk is failed, the other chunk counted, the job failed
    assert job.status == "failed"
    assert "1 chunk(s) could not be applied" in job.message
    assert (job.processed, job.successful, job.failed) == (5, 2, 3)
    failed = Chunk.objects.get(job=job, seq=0)
    assert failed.status == ChunkStatus.FAILED
    # and what the tenant sees names a reference, never the exception's internals
    error = JobError.objects.get(job=job)
    assert error.code == "INTERNAL" and "rows 1-3" in error.message
    assert (
        "internal error (reference " in error.message
        and "secret-internal-detail" not in error.message
    )
    assert "secret-internal-detail" not in failed.error


def test_handler_fail_job_ends_the_job_failed_keeping_its_writes(tenant, celery_worker) -> None:
    # given a one-chunk job whose handler asks to fail the job
    job = make_job(tenant.client_model, [{"names": ["a", "b"], "fail_job": "atomic rolled back"}])
    # when it runs
    job = wait_finished(job)
    # then the job is failed with that message and the chunk's writes committed
    assert job.status == "failed"
    assert job.message == "atomic rolled back"
    assert _committed_rows(tenant) == 2


def test_a_test_without_workers_is_not_raced_by_the_sessions_workers(tenant) -> None:
    # given the session's workers ran the tests above (this test does not ask for them)
    # when this test starts a job: its chunk task is sent to the broker on commit
    import time

    job = make_job(tenant.client_model, [{"names": ["a"]}])
    # Part of the scenario: a worker would take the chunk within the second; there is
    # no event for a task nobody takes.
    time.sleep(1.0)
    # then no worker took the chunk, and running it in-process applies it
    chunk = Chunk.objects.get(job=job)
    assert (chunk.status, chunk.attempts) == (ChunkStatus.PENDING, 0)
    assert execution.chunk_run(chunk_id=chunk.pk).startswith("done")
