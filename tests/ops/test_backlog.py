"""The backlog gauges (jobs.metrics) are read from the jobs' counters and the window,
not by counting chunk rows: they must agree with a row-by-row count in every state a
job goes through (staged for checks, checked, sealed, in flight, running, applied)."""

from __future__ import annotations

import pytest
from django.db.models import Q

from jobs.engine import checks, claims, dispatch, execution, lifecycle
from jobs.engine.lifecycle import ChunkInput, StagedChunk
from jobs.metrics import BacklogCollector
from jobs.models import ACTIVE_STATUSES, Chunk, Dispatch, Job
from tests.jobs.helpers import make_job

pytestmark = pytest.mark.django_db


def _counted_row_by_row() -> tuple[int, int]:
    """(ready, running): pending chunks the dispatcher may send or has sent, split by
    whether a worker started their message."""
    dispatchable = Chunk.objects.filter(status="pending", job__status__in=ACTIVE_STATUSES).filter(
        Q(checked=False) | Q(job__sealed=True, job__chunks_unchecked=0, job__check_failed=0)
    )
    running = dispatchable.filter(dispatch__started_at__isnull=False).count()
    return dispatchable.count() - running, running


def _gauges() -> tuple[int, int, float]:
    ready, running, oldest = BacklogCollector()._read()
    return ready.get("chunks", 0), running.get("chunks", 0), oldest


def _agree() -> tuple[int, int]:
    ready, running, oldest = _gauges()
    assert (ready, running) == _counted_row_by_row()
    assert (oldest > 0) == (ready > 0)
    return ready, running


def _staged(tenant, names: list[list[str]]) -> Job:
    job = lifecycle.job_create(
        tenant=tenant.client_model, type="csv_import", options={}, handler="test.lines"
    )
    staged, offset = [], 0
    for seq, chunk in enumerate(names):
        text = "".join(f"{n}\n" for n in chunk)
        staged.append(StagedChunk(seq, offset, ChunkInput(len(chunk), payload_text=text)))
        offset += len(chunk)
    lifecycle.job_add_chunks(job=job, chunks=staged, check=True)
    return job


def test_the_gauges_agree_with_a_row_count_through_a_jobs_life(tenant, settings) -> None:
    settings.PCF_DISPATCH_WINDOW = 2
    settings.PCF_DISPATCH_GROUP_CHUNKS = 1
    assert _agree() == (0, 0)
    # a strict upload still arriving: its chunks wait for their checks
    strict = _staged(tenant, [["a"], ["b"], ["c"]])
    # and a plain job, sealed: its chunks wait to be applied
    plain = make_job(tenant.client_model, [{"names": [f"n{i}"]} for i in range(4)])
    assert _agree() == (7, 0)
    # some of them in the window's messages, one started by a worker
    dispatch.refill()
    assert Dispatch.objects.count() == 2
    message = Dispatch.objects.order_by("id").first()
    assert message is not None
    started = claims.start(message.pk)
    assert started is not None
    try:
        assert _agree() == (7 - len(started.chunk_ids), len(started.chunk_ids))
    finally:
        claims.release(message.pk)
    # the strict job checked (not sealed yet: nothing of it is ready to apply)
    Dispatch.objects.all().delete()
    Chunk.objects.update(dispatch=None)
    checks.chunks_check(
        chunk_ids=list(Chunk.objects.filter(job=strict).values_list("pk", flat=True))
    )
    assert _agree() == (4, 0)
    # sealed, then two of the plain job's chunks applied
    lifecycle.job_start(job=strict, total=3)
    assert _agree() == (7, 0)
    for pk in Chunk.objects.filter(job=plain).order_by("seq").values_list("pk", flat=True)[:2]:
        execution.chunk_run(chunk_id=pk)
    assert _agree() == (5, 0)
