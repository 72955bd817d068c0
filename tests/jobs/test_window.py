"""The window: PostgreSQL holds every ready chunk; the broker only a bounded, fairly
chosen few (jobs/engine/dispatch.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from jobs.engine import dispatch, execution
from jobs.engine.dispatch import _JobWork, choose
from jobs.models import Chunk, Dispatch, Job, Worker
from tests.jobs.helpers import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _one_chunk_a_message(settings) -> None:
    settings.PCF_DISPATCH_GROUP_CHUNKS = 1  # messages and chunks count alike here
    dispatch._window_cache.clear()


def _rows(n: int, prefix: str) -> list[dict[str, Any]]:
    return [{"names": [f"{prefix}-{i}"]} for i in range(n)]


def _in_flight(job: Job) -> int:
    return Dispatch.objects.filter(job=job).count()


def _finish_one(job: Job) -> None:
    """A worker finishing one of the job's messages (its commit frees the slot)."""
    message = Dispatch.objects.filter(job=job).order_by("pk").first()
    assert message is not None
    for chunk_id in message.chunks.values_list("pk", flat=True):
        execution.chunk_run(chunk_id=chunk_id)


def test_the_window_never_holds_more_than_its_size(tenant, settings) -> None:
    # given a window of 4 and a job of 50 chunks
    settings.PCF_DISPATCH_WINDOW = 4
    job = make_job(tenant.client_model, _rows(50, "a"))
    # when the dispatcher refills, however often
    assert dispatch.refill() == 4
    assert dispatch.refill() == 0
    # then 4 messages are in flight, each carrying one chunk, in order
    assert _in_flight(job) == 4
    assert sorted(Chunk.objects.filter(dispatch__isnull=False).values_list("seq", flat=True)) == [
        0,
        1,
        2,
        3,
    ]
    # and each finished chunk makes room for exactly one more
    _finish_one(job)
    assert _in_flight(job) == 3
    assert dispatch.refill() == 1
    assert _in_flight(job) == 4


def test_the_window_follows_the_live_workers(settings) -> None:
    # given no worker has reported yet: the minimum, so the first worker finds work
    settings.PCF_DISPATCH_WINDOW = 0
    settings.PCF_DISPATCH_PER_PROCESS = 2
    settings.PCF_DISPATCH_WINDOW_MIN = 2
    assert dispatch.window_size() == 2
    # when two chunk workers (3 + 2 processes), a webhook worker and a dead one report
    now = timezone.now()
    long_ago = now - timedelta(minutes=10)
    for host, queues, concurrency, seen in [
        ("a", "celery,chunks", 3, now),
        ("b", "chunks", 2, now),
        ("hooks", "webhooks", 8, now),
        ("gone", "chunks", 16, long_ago),
    ]:
        Worker.objects.create(
            hostname=host, queues=queues, concurrency=concurrency, started_at=seen, seen_at=seen
        )
    # then the window is two messages per live chunk process (read again once its
    # short cache is stale)
    dispatch._window_cache.clear()
    assert dispatch.window_size() == 10
    # and a fixed size wins when set
    settings.PCF_DISPATCH_WINDOW = 3
    assert dispatch.window_size() == 3


def test_a_small_job_of_another_tenant_goes_next_not_after_the_backlog(
    tenant, other_tenant, settings
) -> None:
    # given tenant A's big job filling the window
    settings.PCF_DISPATCH_WINDOW = 4
    big = make_job(tenant.client_model, _rows(200, "a"))
    dispatch.refill()
    assert _in_flight(big) == 4
    # when tenant B submits a small job and one of A's chunks finishes
    small = make_job(other_tenant.client_model, _rows(2, "b"))
    _finish_one(big)
    dispatch.refill()
    # then the free slot goes to B, and the next one too (A still has 3 in flight)
    assert _in_flight(small) == 1
    _finish_one(big)
    dispatch.refill()
    assert (_in_flight(big), _in_flight(small)) == (2, 2)


def test_round_robin_across_tenants_never_starves_one(tenant, other_tenant, settings) -> None:
    # given three tenants with plenty of work and a window of 2
    from tests.tenants import Tenant

    settings.PCF_DISPATCH_WINDOW = 2
    third = Tenant("tenant-c")
    jobs = [
        make_job(t.client_model, _rows(30, t.client_model.name))
        for t in (tenant, other_tenant, third)
    ]
    # when chunks finish one at a time and the window refills after each
    served: list[str] = []
    dispatch.refill()
    for _ in range(12):
        oldest = Dispatch.objects.order_by("pk").first()
        assert oldest is not None
        served.append(oldest.job_id)
        _finish_one(Job.objects.get(pk=oldest.job_id))
        dispatch.refill()
    # then every tenant was served about equally (round-robin)
    counts = sorted(served.count(job.id) for job in jobs)
    assert counts[0] >= 3 and counts[-1] <= 5


def test_a_tenant_cap_bounds_one_tenants_messages(tenant, other_tenant, settings) -> None:
    settings.PCF_DISPATCH_WINDOW = 8
    settings.PCF_TENANT_MAX_RUNNING_CHUNKS = 2
    mine = make_job(tenant.client_model, _rows(20, "a"))
    theirs = make_job(other_tenant.client_model, _rows(20, "b"))
    dispatch.refill()
    # then each tenant has at most 2 in flight, and the rest of the window waits
    assert (_in_flight(mine), _in_flight(theirs)) == (2, 2)


def test_round_robin_across_one_tenants_jobs(tenant, settings) -> None:
    settings.PCF_DISPATCH_WINDOW = 6
    first = make_job(tenant.client_model, _rows(20, "a"))
    second = make_job(tenant.client_model, _rows(20, "b"))
    third = make_job(tenant.client_model, _rows(1, "c"))
    dispatch.refill()
    assert sorted([_in_flight(first), _in_flight(second), _in_flight(third)]) == [1, 2, 3]
    assert _in_flight(third) == 1  # all it had


def test_choose_levels_in_flight_then_serves_the_longest_waiting() -> None:
    # given tenant 1 with 3 messages in flight and tenants 2 and 3 with none,
    # tenant 3 served more recently than tenant 2
    now = timezone.now()

    def work(job: str, tenant: int, served: Any) -> _JobWork:
        ids = list(range(10))
        return _JobWork(job, tenant, now, served, "apply", ids, ids, [1] * 10)

    plans = choose(
        [
            work("j1", 1, now - timedelta(seconds=1)),
            work("j2", 2, now - timedelta(seconds=30)),
            work("j3", 3, now - timedelta(seconds=5)),
        ],
        {1: 3},
        5,
        cap=0,
        now=now,
    )
    # then: 2 and 3 take turns (fewest in flight; the one served longest ago first)
    # until they have as many in flight as tenant 1
    assert [p.job_id for p in plans] == ["j2", "j3", "j2", "j3", "j2"]
    plans = choose([work("j1", 1, now), work("j2", 2, now)], {1: 2, 2: 2}, 2, cap=0, now=now)
    assert sorted(p.job_id for p in plans) == ["j1", "j2"]


def test_checks_are_dispatched_in_batches_and_applies_one_by_one(tenant, settings) -> None:
    from jobs.engine import lifecycle
    from jobs.engine.lifecycle import ChunkInput, StagedChunk

    settings.PCF_DISPATCH_WINDOW = 10
    job = lifecycle.job_create(
        tenant=tenant.client_model, type="csv_import", options={}, handler="test.lines"
    )
    staged = [StagedChunk(s, s, ChunkInput(1, payload_text=f"n{s}\n")) for s in range(40)]
    lifecycle.job_add_chunks(job=job, chunks=staged, check=True)
    # when the window fills while the job is still being filled: checks only
    dispatch.refill()
    sizes = [m.chunks.count() for m in Dispatch.objects.filter(job=job).order_by("pk")]
    assert sizes == [16, 16, 8]
    assert set(Dispatch.objects.values_list("kind", flat=True)) == {"check"}


def test_a_finished_chunk_keeps_no_payload(tenant) -> None:
    job = make_job(tenant.client_model, [{"names": ["a", "b"]}, {"names": ["c"]}])
    for chunk in Chunk.objects.filter(job=job):
        execution.chunk_run(chunk_id=chunk.pk)
    job.refresh_from_db()
    assert job.status == "completed"
    assert not Chunk.objects.filter(job=job, payload__isnull=False).exists()
    assert not Chunk.objects.filter(job=job, payload_text__isnull=False).exists()


def test_a_cancelled_chunk_keeps_no_payload_and_a_failed_one_keeps_it(tenant) -> None:
    from jobs.engine import lifecycle

    failing = make_job(tenant.client_model, [{"rows": 2}], handler="test.broken")
    (broken,) = Chunk.objects.filter(job=failing)
    execution.record_failure(broken.pk, "internal error (reference ref_x)")
    assert Chunk.objects.get(pk=broken.pk).payload == {"rows": 2}  # for a re-run
    cancelled = make_job(tenant.client_model, [{"names": ["a"]}, {"names": ["b"]}])
    lifecycle.job_cancel(job=cancelled)
    assert set(Chunk.objects.filter(job=cancelled).values_list("status", flat=True)) == {
        "cancelled"
    }
    assert not Chunk.objects.filter(job=cancelled, payload__isnull=False).exists()


def test_a_message_applies_consecutive_chunks_up_to_its_row_budget(tenant, settings) -> None:
    # given messages of up to 4 chunks and 10 rows, and chunks of 3 rows (the last of 1)
    settings.PCF_DISPATCH_WINDOW = 2
    settings.PCF_DISPATCH_GROUP_CHUNKS = 4
    settings.PCF_DISPATCH_GROUP_ROWS = 10
    job = make_job(tenant.client_model, [{"rows": 3}] * 6 + [{"rows": 1}], handler="test.noop")
    # when the window fills
    dispatch.refill()
    # then each message holds consecutive chunks within the budget: 3+3+3, then 3+3+1
    groups = [
        list(m.chunks.order_by("seq").values_list("seq", flat=True))
        for m in Dispatch.objects.filter(job=job).order_by("pk")
    ]
    assert groups == [[0, 1, 2], [3, 4, 5, 6]]
    # and running one applies each of its chunks in its own transaction, then frees it
    first = Dispatch.objects.filter(job=job).order_by("pk").first()
    assert first is not None
    assert execution.run_dispatch(first.pk).count("done: 3 ok") == 3
    assert not Dispatch.objects.filter(pk=first.pk).exists()
    assert Chunk.objects.filter(job=job, status="done").count() == 3


def test_a_chunk_bigger_than_the_budget_still_goes_alone(tenant, settings) -> None:
    settings.PCF_DISPATCH_WINDOW = 1
    settings.PCF_DISPATCH_GROUP_CHUNKS = 8
    settings.PCF_DISPATCH_GROUP_ROWS = 10
    job = make_job(tenant.client_model, [{"rows": 50}, {"rows": 1}], handler="test.noop")
    dispatch.refill()
    (message,) = Dispatch.objects.filter(job=job)
    assert list(message.chunks.values_list("seq", flat=True)) == [0]
