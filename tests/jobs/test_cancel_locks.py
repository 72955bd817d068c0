"""Cancelling a job while a worker starts one of its messages: the two lock a message
row and its chunks in opposite orders, so the cancel must not wait for the message."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from jobs.engine import dispatch, ledger, lifecycle
from jobs.models import Chunk, ChunkStatus, Dispatch, JobStatus
from tests.jobs.helpers import make_job

pytestmark = pytest.mark.django_db(transaction=True)


def _other_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params)


def test_cancel_skips_a_message_a_worker_holds_and_frees_it_later(tenant, settings) -> None:
    settings.PCF_DISPATCH_GROUP_CHUNKS = 1
    dispatch._window_cache.clear()
    # given a job whose first message a worker is starting (its row locked, as
    # claims.start's UPDATE holds it until it has stamped the chunks)
    job = make_job(tenant.client_model, [{"names": [f"c{i}"]} for i in range(3)])
    dispatch.refill()  # (submitting may have filled the window already)
    message = Dispatch.objects.filter(job=job).order_by("pk").first()
    assert message is not None
    worker = _other_connection()
    try:
        worker.execute("UPDATE jobs_dispatch SET started_at = now() WHERE id = %s", [message.pk])
        # when the job is cancelled (a lock wait would be a LockNotAvailable here, and
        # with the worker's next step, waiting on a chunk the cancel holds, a deadlock;
        # the worker never lets go in this block, so any wait on it hits the timeout)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")
        cancelled = lifecycle.job_cancel(job=job)
        # then it answers without waiting, every chunk cancelled, the held message left alone
        assert cancelled.status == JobStatus.CANCELLED
        assert not Chunk.objects.filter(job=job, status=ChunkStatus.PENDING).exists()
        assert Dispatch.objects.filter(pk=message.pk).exists()
    finally:
        worker.rollback()
        worker.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    # and once the worker lets go, the idle message is freed (as its starter does)
    ledger.free_idle_dispatches(job.id)
    assert not Dispatch.objects.filter(job=job).exists()
