"""Webhooks from the outbox: written with the job's end, delivered from PostgreSQL at
least once, one bounded attempt at a time (jobs/engine/outbox.py, jobs/webhooks.py)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings

from jobs.engine import execution, outbox
from jobs.models import Chunk, Job, WebhookDelivery, WebhookMessage
from jobs.parsing import parse_webhook_option
from tests.jobs.helpers import make_job
from tests.jobs.test_webhooks import Receiver
from tests.polling import wait_for
from tests.waiting import wait_finished


class RawReceiver:
    """A TCP server answering every request with `answer(conn)`; records each
    connection's client port and how many bytes it managed to send."""

    def __init__(self, answer: Any) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.ports: list[int] = []
        self.sent: list[int] = []
        self.answer = answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, address = self.sock.accept()
            except OSError:
                return
            self.ports.append(address[1])
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            while len(body) < length:
                body += conn.recv(65536)
            sent = 0
            try:
                for part in self.answer():
                    conn.sendall(part)
                    sent += len(part)
            except OSError:
                pass  # the client hung up
            self.sent.append(sent)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_receiver() -> Iterator[Any]:
    made: list[RawReceiver] = []

    def make(answer: Any) -> RawReceiver:
        made.append(RawReceiver(answer))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def _message(tenant: Any, url: str) -> WebhookMessage:
    """The outbox row of a job with a webhook, settled in-process."""
    return WebhookMessage.objects.get(job=_settled_job(tenant, url))


def _settled_job(tenant: Any, url: str) -> Job:
    """A finished job with a webhook, settled in-process: its outbox row is written."""
    job = make_job(
        tenant.client_model, [{"names": ["a"]}], webhook=parse_webhook_option({"url": url})
    )
    execution.chunk_run(chunk_id=Chunk.objects.get(job=job).pk)
    job.refresh_from_db()
    assert job.is_settled
    return job


@pytest.mark.django_db
def test_the_settling_transaction_writes_the_webhook(tenant, allow_private_webhooks) -> None:
    # given a job with a webhook that finishes
    job = _settled_job(tenant, "http://127.0.0.1:9/hook")
    # then its outbox row exists, due now, with the payload it will always send
    (message,) = WebhookMessage.objects.filter(job=job)
    assert (message.event, message.status, message.attempts) == (
        "bulk_import.completed",
        "pending",
        0,
    )
    assert '"event":"bulk_import.completed"' in message.body
    assert f'"job_id":"{job.id}"' in message.body


@pytest.mark.django_db
def test_an_attempt_has_a_total_deadline(tenant, settings, raw_receiver) -> None:
    # given a receiver that answers its headers, then trickles a byte a second forever
    settings.PCF_WEBHOOK_ALLOW_PRIVATE = True
    settings.PCF_WEBHOOK_TIMEOUT_SECONDS = 2

    def trickle() -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
        while True:
            time.sleep(0.5)
            yield b"x"

    receiver = raw_receiver(trickle)
    message = _message(tenant, receiver.url)
    # when it is attempted
    started = time.monotonic()
    outbox.deliver(str(message.pk))
    elapsed = time.monotonic() - started
    # then the attempt ended at its deadline, not at the receiver's pace (100,000 bytes
    # at 2 a second: 14 hours), and will retry; the bound leaves room for a loaded machine
    assert elapsed < 30
    (attempt,) = WebhookDelivery.objects.filter(message=message)
    assert attempt.error == "timed out after 2s" and attempt.next_retry_at is not None


@pytest.mark.django_db
def test_an_attempt_reads_at_most_64_kib_of_the_answer(tenant, settings, raw_receiver) -> None:
    # given a receiver whose answer is 50 MB
    settings.PCF_WEBHOOK_ALLOW_PRIVATE = True
    chunk = b"x" * 65536

    def huge() -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\nContent-Length: 52428800\r\n\r\n"
        for _ in range(800):
            yield chunk

    receiver = raw_receiver(huge)
    message = _message(tenant, receiver.url)
    # when it is attempted, then it succeeds without reading the rest
    assert outbox.deliver(str(message.pk)).startswith("delivered")
    wait_for(lambda: receiver.sent, timeout=30)
    assert receiver.sent[0] < 10 * 1024 * 1024  # the client hung up early


@pytest.mark.django_db
def test_every_attempt_opens_a_connection_of_its_own(tenant, settings, raw_receiver) -> None:
    # given a receiver that keeps connections alive
    settings.PCF_WEBHOOK_ALLOW_PRIVATE = True

    def ok() -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"

    receiver = raw_receiver(ok)
    first = _message(tenant, receiver.url)
    second = _message(tenant, receiver.url)
    # when two webhooks are delivered one after the other
    outbox.deliver(str(first.pk))
    outbox.deliver(str(second.pk))
    # then each came on a new connection (a pooled one may have been closed meanwhile)
    assert len(receiver.ports) == 2 and receiver.ports[0] != receiver.ports[1]


@pytest.mark.django_db
def test_a_message_is_attempted_by_one_worker_at_a_time(tenant, allow_private_webhooks) -> None:
    message = _message(tenant, "http://127.0.0.1:9/hook")
    assert outbox._lease(str(message.pk)) == 1
    # while leased, a second delivery of the same nudge does nothing
    assert outbox.deliver(str(message.pk)).startswith("skipped")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_pending_retry_survives_the_broker_losing_its_data(
    tenant, celery_beat, allow_private_webhooks
) -> None:
    # given a webhook whose first attempt failed (receiver: 500, then 200)
    import redis

    receiver = Receiver([500, 200])
    try:
        job = make_job(
            tenant.client_model, [{"names": ["a"]}], webhook=parse_webhook_option(receiver.url)
        )
        wait_finished(job)
        wait_for(lambda: WebhookDelivery.objects.filter(job=job).exists(), timeout=30)
        # when the broker loses everything while the retry is pending
        url = django_settings.CELERY_BROKER_URL.replace("redis+socket", "unix")
        redis.Redis.from_url(url).flushdb()
        # then the retry still happens, from the outbox row, under the same delivery id
        wait_for(lambda: WebhookDelivery.objects.filter(job=job, succeeded=True).exists(), 30)
        assert [r["headers"]["X-PCF-Delivery-ID"] for r in receiver.requests] == [
            str(WebhookMessage.objects.get(job=job).pk)
        ] * 2
    finally:
        receiver.close()
