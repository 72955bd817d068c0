"""Chunk task results: written by the engine in the chunk's own transaction
(jobs/task_results.py), read back through django-celery-results like any other."""

from __future__ import annotations

import pytest
from celery.result import AsyncResult
from django_celery_results.models import TaskResult

from jobs.models import Chunk, ChunkStatus, Dispatch
from jobs.tasks import run_dispatch
from tests.jobs.helpers import make_job
from tests.waiting import wait_finished


def _result(chunk: Chunk) -> AsyncResult:
    return AsyncResult(chunk.task_id, app=run_dispatch.app)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_each_chunk_task_leaves_its_result_row_as_the_backend_would(tenant, celery_worker):
    job = make_job(tenant.client_model, [{"names": ["a", "bad-1"]}, {"names": ["b"]}])
    job = wait_finished(job)
    assert job.status == "completed"
    for chunk in Chunk.objects.filter(job=job).order_by("seq"):
        result = _result(chunk)
        assert result.status == "SUCCESS"
        assert result.result == (
            "done: 1 ok, 1 failed, 0 skipped"
            if chunk.seq == 0
            else "done: 1 ok, 0 failed, 0 skipped"
        )
        row = TaskResult.objects.get(task_id=chunk.task_id)
        assert row.task_name == "jobs.tasks.run_dispatch"
        assert row.task_args.startswith('"(') and row.task_args.endswith(',)"')
        assert row.task_kwargs == '"{}"'
        assert row.meta == '{"children": []}'
        # celery-types' stub of TaskResult predates these two columns: read them as values
        worker, created = TaskResult.objects.values_list("worker", "date_created").get(pk=row.pk)
        assert worker and "@" in worker
        assert row.date_done >= created


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_failing_chunk_records_a_reference_not_its_internals(tenant, celery_worker):
    job = wait_finished(make_job(tenant.client_model, [{"rows": 3}], handler="test.broken"))
    assert job.status == "failed"
    chunk = Chunk.objects.get(job=job)
    assert chunk.status == ChunkStatus.FAILED
    result = _result(chunk)
    assert str(result.result).startswith("failed: internal error (reference ")
    # the tenant sees the reference; the exception's text is only in the worker's log
    (error,) = job.errors.all()
    assert "internal error (reference " in error.message
    assert "broken handler" not in error.message and "ValueError" not in error.message
    reference = error.message.rsplit("reference ", 1)[1].rstrip(")")
    assert any(reference in w.output() for w in celery_worker.workers)


@pytest.mark.django_db(transaction=True)
def test_a_second_delivery_updates_the_same_row_with_what_it_did(tenant):
    job = make_job(tenant.client_model, [{"names": ["a"]}])  # its commit fills the window
    chunk = Chunk.objects.get(job=job)
    message = Dispatch.objects.get(job=job)
    assert message.task_id == chunk.task_id
    run_dispatch.apply(args=(message.pk,), task_id=chunk.task_id)
    assert TaskResult.objects.get(task_id=chunk.task_id).result == (
        '"done: 1 ok, 0 failed, 0 skipped"'
    )
    # when the same message is delivered again (e.g. after a lost ack)
    run_dispatch.apply(args=(message.pk,), task_id=chunk.task_id)
    # then the chunk is not applied twice and the one row says so
    row = TaskResult.objects.get(task_id=chunk.task_id)
    assert row.result == '"skipped: finished already, or running elsewhere"'
    assert TaskResult.objects.filter(task_id=chunk.task_id).count() == 1
    assert tenant.client_model.resource_set.count() == 1
