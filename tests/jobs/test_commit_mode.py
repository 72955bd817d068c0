"""Window messages (chunk and check work) run with synchronous_commit off for their
session; other tasks on the same worker process get the server default back
(jobs.tasks._commit_mode)."""

from __future__ import annotations

import pytest
from celery.signals import task_prerun
from django.db import connection

from jobs import tasks
from pcf.celery import app

# The senders a worker really passes: the registered tasks, not shared_task's proxies.
run_chunk = app.tasks[tasks.run_dispatch.name]
deliver_webhook = app.tasks[tasks.deliver_webhook.name]
sweep = app.tasks[tasks.sweep.name]


@pytest.fixture(autouse=True)
def _back_to_default():
    yield
    task_prerun.send(sender=sweep, task_id="cleanup", task=sweep)  # the next test's session


def _setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_chunk_tasks_switch_the_session_and_other_tasks_switch_it_back():
    connection.ensure_connection()
    assert _setting() == "on"
    task_prerun.send(sender=run_chunk, task_id="t1", task=run_chunk)
    assert _setting() == "off"
    task_prerun.send(sender=deliver_webhook, task_id="t3", task=deliver_webhook)
    assert _setting() == "on"
    task_prerun.send(sender=sweep, task_id="t4", task=sweep)
    assert _setting() == "on"


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_starts_from_the_default_again():
    connection.ensure_connection()
    task_prerun.send(sender=run_chunk, task_id="t1", task=run_chunk)
    assert _setting() == "off"
    connection.close()
    connection.ensure_connection()
    assert _setting() == "on"
    task_prerun.send(sender=run_chunk, task_id="t2", task=run_chunk)
    assert _setting() == "off"


@pytest.mark.django_db(transaction=True)
def test_a_chunk_task_on_a_worker_not_connected_yet_connects_in_async_mode():
    connection.close()
    task_prerun.send(sender=run_chunk, task_id="t1", task=run_chunk)
    assert _setting() == "off"


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_chunks_on_a_real_worker_commit_without_waiting_for_the_flush(tenant, celery_worker):
    from jobs.models import Chunk
    from tests.jobs.helpers import make_job
    from tests.waiting import wait_finished

    job = wait_finished(make_job(tenant.client_model, [{"rows": 1}] * 4, handler="test.setting"))
    assert job.status == "completed"
    seen = {c.result["meta"]["synchronous_commit"] for c in Chunk.objects.filter(job=job)}
    assert seen == {"off"}


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_does_not_fail_the_task_before_it_starts(monkeypatch):
    # given a worker whose database is away (a real refused connection)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
    monkeypatch.setitem(connection.settings_dict, "PORT", str(port))
    # when a window message is about to run, then the hook lets it run (it rides out
    # the outage itself) instead of raising outside the task body
    task_prerun.send(sender=run_chunk, task_id="t1", task=run_chunk)
    assert connection.connection is None
