"""The sweeper finds window messages that will never run, and only those
(jobs/engine/sweeper.py), against the real broker and real advisory locks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from jobs.engine import broker, claims, locks, sweeper
from jobs.models import Dispatch
from tests.jobs.helpers import make_job
from tests.worker_fixtures import _purge_broker

pytestmark = pytest.mark.django_db(transaction=True)


def _broker_redis():  # the broker's own Redis client, as kombu reaches it
    import redis

    return redis.Redis.from_url(django_settings.CELERY_BROKER_URL.replace("redis+socket", "unix"))


@pytest.fixture(autouse=True)
def _clean_broker(settings) -> Iterator[None]:
    settings.PCF_DISPATCH_WINDOW = 3
    settings.PCF_DISPATCH_GROUP_CHUNKS = 1  # a message per chunk: countable
    settings.PCF_DISPATCH_START_TIMEOUT_SECONDS = 5
    settings.PCF_DISPATCH_STALL_SECONDS = 5
    _purge_broker()
    yield
    _purge_broker()


@pytest.fixture
def other_session() -> Iterator[psycopg.Connection]:
    """A second database session (e.g. a worker's), to hold advisory locks."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as session:
        yield session


def _queued() -> int:
    length = broker.queue_length("chunks")
    assert length is not None
    return length


def _age(messages, seconds: float, *, started: bool = False) -> None:
    """Pretend the messages were sent (and maybe started) `seconds` ago."""
    then = timezone.now() - timedelta(seconds=seconds)
    Dispatch.objects.filter(pk__in=[m.pk for m in messages]).update(
        sent_at=then, started_at=then if started else None
    )


def test_after_the_broker_lost_its_data_every_waiting_message_is_sent_again(tenant) -> None:
    # given a job whose window (3 messages) is in the broker, and a sweep that saw it
    make_job(tenant.client_model, [{"names": [f"n{i}"]} for i in range(10)])
    assert _queued() == 3
    assert sweeper.sweep()["broker_lost"] == 0
    # when the broker loses its data
    _broker_redis().flushdb()
    assert _queued() == 0
    # then the next sweep notices at once and sends the window again
    swept = sweeper.sweep()
    assert (swept["broker_lost"], swept["resent_after_loss"]) == (1, 3)
    assert _queued() == 3
    assert set(Dispatch.objects.values_list("sends", flat=True)) == {2}
    # and a sweep after that changes nothing
    assert sweeper.sweep()["broker_lost"] == 0
    assert _queued() == 3


def test_a_message_merely_queued_is_never_sent_twice(tenant) -> None:
    # given messages waiting in the broker for longer than the start timeout
    make_job(tenant.client_model, [{"names": [f"n{i}"]} for i in range(10)])
    sweeper.sweep()
    _age(Dispatch.objects.all(), 60)
    # when sweeps run
    for _ in range(3):
        assert sweeper.sweep()["resent_unstarted"] == 0
    # then nothing was sent twice
    assert _queued() == 3
    assert set(Dispatch.objects.values_list("sends", flat=True)) == {1}


def test_unstarted_messages_the_broker_lost_are_sent_again(tenant) -> None:
    # given 3 messages sent long ago, 2 of which the broker no longer holds (a worker
    # that took them died, say)
    make_job(tenant.client_model, [{"names": [f"n{i}"]} for i in range(10)])
    sweeper.sweep()
    messages = list(Dispatch.objects.order_by("pk"))
    _age(messages, 60)
    client = _broker_redis()
    client.rpop("chunks", 2)  # the oldest two (kombu's Redis queues pop from the right)
    assert _queued() == 1
    # when the sweeper runs: it sends the two oldest again, no more
    assert sweeper.sweep()["resent_unstarted"] == 2
    assert _queued() == 3
    assert [m.sends for m in Dispatch.objects.order_by("pk")] == [2, 2, 1]


def test_a_started_message_no_worker_holds_is_sent_again_and_a_running_one_is_not(
    tenant, other_session
) -> None:
    # given two messages a worker started long ago: one still held (running), one not
    make_job(tenant.client_model, [{"names": [f"n{i}"]} for i in range(10)])
    sweeper.sweep()
    running, dead, _waiting = Dispatch.objects.order_by("pk")
    _age([running, dead], 60, started=True)
    other_session.execute(
        "SELECT pg_advisory_lock(%s::bigint + %s)", [claims.DISPATCH_LOCK_BASE, running.pk]
    )
    assert claims.running_dispatch_ids() == {running.pk}
    # when the sweeper runs
    swept = sweeper.sweep()
    # then only the one no worker holds is sent again, as unstarted
    assert swept["resent_stalled"] == 1
    running.refresh_from_db()
    dead.refresh_from_db()
    assert (running.sends, running.started_at is not None) == (1, True)
    assert (dead.sends, dead.started_at) == (2, None)
    # and once its worker lets go, the running one counts as stalled too
    other_session.execute(
        "SELECT pg_advisory_unlock(%s::bigint + %s)", [claims.DISPATCH_LOCK_BASE, running.pk]
    )
    assert sweeper.sweep()["resent_stalled"] == 1


def test_two_sweeps_never_run_at_once(other_session) -> None:
    other_session.execute("SELECT pg_advisory_lock(%s)", [locks.SWEEPER])
    assert sweeper.sweep() == {"skipped": 1}
    other_session.execute("SELECT pg_advisory_unlock(%s)", [locks.SWEEPER])
    assert "skipped" not in sweeper.sweep()


def test_messages_whose_chunks_went_away_free_their_slot(tenant) -> None:
    # given a message whose chunk was cancelled while it waited
    from jobs.models import Chunk

    make_job(tenant.client_model, [{"names": [f"n{i}"]} for i in range(10)])
    message = Dispatch.objects.order_by("pk").first()
    assert message is not None
    Chunk.objects.filter(dispatch=message).update(status="cancelled", dispatch=None)
    # when the sweeper runs, the slot is freed and refilled
    swept = sweeper.sweep()
    assert swept["idle_dropped"] == 1 and swept["refilled"] == 1
    assert Dispatch.objects.count() == 3
