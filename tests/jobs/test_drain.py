"""Draining: a chunk task runs its job's next pending chunks too, each exactly once.

In-process tests call services.chunk_run directly (no worker); the SIGKILL test kills a
real worker while it runs a drained chunk."""

from __future__ import annotations

import pytest
from django.db.models import Count

from jobs import services
from jobs.models import Chunk, ChunkStatus, chunk_task_id
from resources.models import Resource
from tests.jobs.conftest import make_job, wait_finished


def _names(chunk: int, size: int) -> list[str]:
    return [f"d-{chunk}-{i}" for i in range(size)]


def _statuses(job) -> list[tuple[int, str, int]]:
    return list(
        Chunk.objects.filter(job=job).order_by("seq").values_list("seq", "status", "attempts")
    )


@pytest.mark.django_db
def test_drain_runs_the_following_chunks_once_and_finishes_the_job(tenant) -> None:
    # given a started job of 4 chunks
    job = make_job(tenant.client_model, [{"names": _names(c, 2)} for c in range(4)])
    first = Chunk.objects.get(job=job, seq=0)
    # when the first chunk's task runs with draining
    outcome = services.chunk_run(chunk_id=first.pk, drain=True)
    # then it ran the other three too, one attempt each, and the job completed
    assert outcome.endswith("drained 3 more chunk(s)")
    assert _statuses(job) == [(s, ChunkStatus.DONE, 1) for s in range(4)]
    job.refresh_from_db()
    assert (job.status, job.processed, job.successful) == ("completed", 8, 8)
    # and a later message for a drained chunk is a cheap skip
    last = Chunk.objects.get(job=job, seq=3)
    assert services.chunk_run(chunk_id=last.pk, drain=True).startswith("skipped")
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 8


@pytest.mark.django_db
def test_drain_leaves_attempted_and_undispatched_chunks_to_their_own_messages(tenant) -> None:
    # given an unsealed job: chunks 0-2 dispatched, chunk 1 attempted once before (a
    # crash), chunk 3 stored but not dispatched yet (its upload is still running)
    job = make_job(tenant.client_model, [{"names": _names(c, 1)} for c in range(3)], start=False)
    Chunk.objects.filter(job=job).update(dispatched_at="2026-01-01T00:00:00Z")
    Chunk.objects.filter(job=job, seq=1).update(attempts=1)
    services.job_add_chunk(
        job=job, seq=3, row_offset=3, row_count=1, payload={"names": ["x"]}, dispatch=False
    )
    # when chunk 0 runs with draining
    services.chunk_run(chunk_id=Chunk.objects.get(job=job, seq=0).pk, drain=True)
    # then only chunk 2 was drained: crash accounting and "nothing runs before the
    # upload is accepted" are unchanged
    assert _statuses(job) == [
        (0, ChunkStatus.DONE, 1),
        (1, ChunkStatus.PENDING, 1),
        (2, ChunkStatus.DONE, 1),
        (3, ChunkStatus.PENDING, 0),
    ]


@pytest.mark.django_db
def test_drain_stops_when_the_job_is_cancelled(tenant) -> None:
    # given a started job of 3 chunks whose first chunk has run
    job = make_job(tenant.client_model, [{"names": _names(c, 1)} for c in range(3)])
    services.chunk_run(chunk_id=Chunk.objects.get(job=job, seq=0).pk)
    # when the job is cancelled and another message for chunk 0's position drains
    services.job_cancel(job=job)
    # then nothing more is claimed: the pending chunks were cancelled, none attempted
    assert services._drain(job.id, after_chunk=Chunk.objects.get(job=job, seq=0).pk) == 0
    assert _statuses(job) == [
        (0, ChunkStatus.DONE, 1),
        (1, ChunkStatus.CANCELLED, 0),
        (2, ChunkStatus.CANCELLED, 0),
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_sigkill_mid_drained_chunk_loses_nothing_and_counts_once(tenant, celery_beat) -> None:
    # given one worker process, and a job whose chunk 1 writes its rows and then works
    # for a while: with prefetch 1 and late acks, the worker can only reach chunk 1
    # by draining it inside chunk 0's task
    from pcf.redis import redis_client
    from tests.jobs.conftest import wait_for
    from tests.jobs.handlers import written_key

    celery_beat.kill9()
    worker = celery_beat.start(concurrency=1)
    chunks = [{"names": _names(0, 5)}, {"names": _names(1, 5), "sleep": 3.0}]
    chunks += [{"names": _names(c, 5)} for c in range(2, 4)]
    job = make_job(tenant.client_model, chunks)
    ran_by = wait_for(lambda: redis_client().get(written_key(job.id, 1)), timeout=30)
    assert ran_by == chunk_task_id(job.id, 0)
    # when the worker is killed with SIGKILL while the drained chunk has written but
    # not committed
    worker.kill9()
    # then only chunk 0 is committed, and chunk 1 is pending with its attempt counted
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 5
    assert _statuses(job)[:2] == [(0, ChunkStatus.DONE, 1), (1, ChunkStatus.PENDING, 1)]
    # and a fresh worker (requeued messages, or the sweeper) finishes the job exactly
    celery_beat.start(concurrency=1)
    job = wait_finished(job, timeout=60)
    assert job.status == "completed"
    assert (job.processed, job.successful, job.failed) == (20, 20, 0)
    duplicated = (
        Resource.objects.filter(tenant=tenant.client_model)
        .values("name")
        .annotate(n=Count("seq"))
        .filter(n__gt=1)
    )
    assert list(duplicated) == []
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 20
