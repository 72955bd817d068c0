"""A window message's chunks applied together (one handler call, one transaction) keep
each chunk's outcome, and fall back to one by one whenever they cannot go together
(jobs.engine.execution.group_run)."""

from __future__ import annotations

from typing import Any

import pytest
from django_celery_results.models import TaskResult

from jobs.engine import dispatch, execution
from jobs.models import Chunk, Dispatch, Job
from jobs.tasks import run_dispatch
from pcf.redis import redis_client
from resources.models import Resource
from tests.jobs.helpers import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _three_chunks_a_message(settings: Any) -> None:
    settings.PCF_DISPATCH_WINDOW = 2
    settings.PCF_DISPATCH_GROUP_CHUNKS = 3
    dispatch._window_cache.clear()


def _job(tenant: Any, names: list[list[str]], **payload: Any) -> Job:
    return make_job(
        tenant.client_model,
        [{"names": n, **payload} for n in names],
        handler="test.grouped",
    )


def _run_first_message(job: Job) -> str:
    dispatch.refill()
    message = Dispatch.objects.filter(job=job).order_by("pk").first()
    assert message is not None
    return run_dispatch.apply(args=(message.pk,), task_id=message.task_id).get()


def _together(job: Job) -> int:
    return int(redis_client().get(f"pcf:test:together:{job.id}") or 0)


def test_chunks_of_a_message_go_together_and_keep_their_own_outcomes(tenant) -> None:
    # given a job of 4 chunks: one message takes the first 3
    job = _job(tenant, [["a", "b"], ["c"], ["d", "e", "f"], ["g"]])
    # when it runs
    outcome = _run_first_message(job)
    # then one handler call applied all three, each chunk done with its own counts
    assert outcome == "done together: 3 chunks, 6 ok"
    assert _together(job) == 1
    done = dict(Chunk.objects.filter(job=job, status="done").values_list("seq", "successful"))
    assert done == {0: 2, 1: 1, 2: 3}
    job.refresh_from_db()
    assert (job.chunks_finished, job.processed, job.successful) == (3, 6, 6)
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 6
    # each chunk recorded under its own task id, as one by one would
    for seq in range(3):
        row = TaskResult.objects.get(task_id=f"{job.id}.chunk.{seq}")
        assert row.result == f'"done: {done[seq]} ok, 0 failed, 0 skipped"'
    # and the last chunk, alone in its message, finishes the job
    _run_first_message(job)
    job.refresh_from_db()
    assert (job.status, job.successful) == ("completed", 7)


def test_when_the_group_fails_nothing_of_it_stays_and_chunks_go_one_by_one(tenant) -> None:
    # given a message whose group handler writes, then raises
    job = _job(tenant, [["a"], ["explode", "b"], ["c"]])
    # when it runs
    outcome = _run_first_message(job)
    # then the group's writes were rolled back and each chunk applied alone, once
    assert outcome.count("done:") == 3
    assert _together(job) == 0
    names = sorted(
        Resource.objects.filter(tenant=tenant.client_model).values_list("name", flat=True)
    )
    assert names == ["a", "b", "c"]
    job.refresh_from_db()
    assert (job.status, job.successful) == ("completed", 3)


def test_a_group_handler_may_decline(tenant) -> None:
    job = _job(tenant, [["a"], ["b"]], decline=True)
    assert _run_first_message(job).count("done:") == 2
    assert _together(job) == 0
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 2


def test_a_chunk_applied_meanwhile_is_left_out_of_the_group(tenant) -> None:
    # given a message one of whose chunks was applied meanwhile (a duplicate delivery)
    job = _job(tenant, [["a"], ["b"], ["c"]])
    dispatch.refill()
    message = Dispatch.objects.get(job=job)
    execution.chunk_run(chunk_id=Chunk.objects.get(job=job, seq=1).pk)
    # when the message runs, then the two others are applied together, and b once
    outcome = run_dispatch.apply(args=(message.pk,), task_id=message.task_id).get()
    assert outcome == "done together: 2 chunks, 2 ok"
    names = sorted(
        Resource.objects.filter(tenant=tenant.client_model).values_list("name", flat=True)
    )
    assert names == ["a", "b", "c"]
