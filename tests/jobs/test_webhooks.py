"""Webhooks: signed payloads to a real HTTP receiver, retries, SSRF refusal."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from jobs.engine import outbox
from jobs.models import Job, WebhookDelivery, WebhookMessage
from jobs.parsing import parse_webhook_option
from pcf.exceptions import ValidationError
from tests.jobs.helpers import make_job
from tests.polling import wait_for
from tests.waiting import wait_finished


class Receiver:
    """A real HTTP server on 127.0.0.1 recording every POST; answers `statuses` in turn."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = (
                    receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def verify(secret: str, header: str, body: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(parts["v1"], expected.hexdigest())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_receiver_gets_a_correctly_signed_payload(
    tenant, celery_worker, receiver_factory, allow_private_webhooks
) -> None:
    # given a job with a webhook carrying a caller header
    receiver = receiver_factory([200])
    webhook = parse_webhook_option(
        {
            "url": receiver.url,
            "events": ["completed", "failed"],
            "headers": {"X-Webhook-Secret": "s3"},
        }
    )
    job = make_job(tenant.client_model, [{"names": ["a", "bad-b"]}], type="batch", webhook=webhook)
    # when the job completes
    wait_finished(job)
    wait_for(lambda: receiver.requests, timeout=20)
    # then the receiver got the cookbook's payload, signed with the tenant's secret
    request = receiver.requests[0]
    payload = json.loads(request["body"])
    assert payload["event"] == "batch.completed"
    assert payload["job_id"] == job.id
    assert {k: payload["summary"][k] for k in ("total_operations", "successful", "failed")} == {
        "total_operations": 2,
        "successful": 1,
        "failed": 1,
    }
    assert isinstance(payload["summary"]["duration_ms"], int)
    assert payload["timestamp"].endswith("Z")
    assert verify(
        tenant.client_model.webhook_secret, request["headers"]["X-PCF-Signature"], request["body"]
    )
    assert not verify("whsec_other", request["headers"]["X-PCF-Signature"], request["body"])
    assert request["headers"]["X-Webhook-Secret"] == "s3"
    assert request["headers"]["Content-Type"] == "application/json"
    # and the attempt is recorded and listed
    listed = wait_for(lambda: tenant.api.get(f"/v1/jobs/{job.id}/webhooks").json()["data"])
    assert listed[0]["status_code"] == 200 and listed[0]["succeeded"] is True
    assert listed[0]["url"] == receiver.url and listed[0]["next_retry_at"] is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_failing_receiver_is_retried_with_backoff(
    tenant, celery_beat, receiver_factory, allow_private_webhooks
) -> None:
    # given a receiver that fails twice, then accepts
    receiver = receiver_factory([500, 503, 200])
    job = make_job(
        tenant.client_model, [{"names": ["a"]}], webhook=parse_webhook_option(receiver.url)
    )
    # when the job completes
    wait_finished(job)
    wait_for(lambda: WebhookDelivery.objects.filter(job=job, succeeded=True).exists(), timeout=30)
    # then every attempt is recorded: two failures with a next retry, then success
    attempts = list(WebhookDelivery.objects.filter(job=job).order_by("attempt"))
    assert [(a.attempt, a.status_code, a.succeeded) for a in attempts] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert attempts[0].next_retry_at is not None and attempts[1].next_retry_at is not None
    # backoff grows: 1 s, then 2 s (test workers' base is 1 s)
    gap1 = (attempts[1].created_at - attempts[0].created_at).total_seconds()
    gap2 = (attempts[2].created_at - attempts[1].created_at).total_seconds()
    assert gap1 >= 0.9 and gap2 >= 1.9
    assert len(receiver.requests) == 3
    # the same event and body each time, under one delivery id, each signed anew
    assert {r["body"] for r in receiver.requests} == {receiver.requests[0]["body"]}
    assert {json.loads(r["body"])["event"] for r in receiver.requests} == {"bulk_import.completed"}
    message = WebhookMessage.objects.get(job=job)
    assert {r["headers"]["X-PCF-Delivery-ID"] for r in receiver.requests} == {str(message.pk)}
    assert (message.status, message.attempts) == ("delivered", 3)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost:8000/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_targets_are_refused_at_creation(settings, url) -> None:
    # given the default setting
    settings.PCF_WEBHOOK_ALLOW_PRIVATE = False
    # when a job asks for such a webhook, then it is a validation error
    with pytest.raises(ValidationError) as caught:
        parse_webhook_option({"url": url})
    assert caught.value.details[0]["field"] == "webhook.url"


@pytest.mark.django_db
def test_private_target_is_refused_at_delivery_after_dns(
    tenant, settings, receiver_factory
) -> None:
    # given a stored webhook whose name resolves to loopback (e.g. DNS changed since)
    receiver = receiver_factory([200])
    settings.PCF_WEBHOOK_ALLOW_PRIVATE = False
    job = _finished_with_webhook(
        tenant,
        {"url": receiver.url.replace("127.0.0.1", "localhost"), "events": ["completed"]},
    )
    # when it is delivered
    message = outbox.enqueue(job)
    assert message is not None
    outbox.deliver(str(message.pk))
    # then nothing is sent, the refusal is recorded, and it is not retried
    assert receiver.requests == []
    (attempt,) = WebhookDelivery.objects.filter(job=job)
    assert attempt.error.startswith("refused:") and attempt.next_retry_at is None
    message.refresh_from_db()
    assert message.status == "failed"


def _finished_with_webhook(tenant: Any, webhook: dict[str, Any]) -> Job:
    job = make_job(tenant.client_model, [], start=False)
    job.webhook = {"headers": {}, **webhook}
    job.status = "completed"
    job.save()
    return job


@pytest.mark.django_db
def test_caller_headers_cannot_override_reserved_ones(settings) -> None:
    settings.PCF_WEBHOOK_ALLOW_PRIVATE = True
    for name in ("Host", "content-type", "Content-Length", "X-PCF-Signature", "X-PCF-Delivery-ID"):
        # when a caller sets a reserved header, then it is refused
        with pytest.raises(ValidationError):
            parse_webhook_option({"url": "http://127.0.0.1/x", "headers": {name: "x"}})


@pytest.mark.django_db
def test_stored_reserved_headers_are_still_overridden_at_delivery(
    tenant, settings, receiver_factory
) -> None:
    # given a webhook stored with reserved headers (older data, or written around the parser)
    settings.PCF_WEBHOOK_ALLOW_PRIVATE = True
    receiver = receiver_factory([200])
    job = _finished_with_webhook(
        tenant,
        {
            "url": receiver.url,
            "events": ["completed"],
            "headers": {
                "X-PCF-Signature": "forged",
                "X-PCF-Delivery-ID": "forged",
                "Content-Type": "text/plain",
                "X-Ok": "1",
            },
        },
    )
    # when it is delivered
    message = outbox.enqueue(job)
    assert message is not None
    outbox.deliver(str(message.pk))
    # then PCF's values win and the caller's other headers pass
    headers = receiver.requests[0]["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-PCF-Signature"] != "forged"
    assert headers["X-PCF-Delivery-ID"] == str(message.pk)
    assert verify(
        tenant.client_model.webhook_secret, headers["X-PCF-Signature"], receiver.requests[0]["body"]
    )
    assert headers["X-Ok"] == "1"


def test_option_shapes() -> None:
    # a bare URL (bulk's notification_webhook) means every event, no headers
    option = parse_webhook_option("https://93.184.215.14/done")
    assert option is not None and option.as_json() == {
        "url": "https://93.184.215.14/done",
        "events": ["completed", "failed", "cancelled"],
        "headers": {},
    }
    assert parse_webhook_option(None) is None
    for bad in (
        {"url": "ftp://x/y"},
        {"url": "https://8.8.8.8/", "events": ["done"]},
        {"uri": "x"},
        5,
    ):
        with pytest.raises(ValidationError):
            parse_webhook_option(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "https://93.184.215.14/a\u0000b",  # jsonb cannot store U+0000: was a 500
        " https://93.184.215.14/",
        "https://93.184.215.14/\n",
        "https://93.184.215.14/a b",
        "HTTPS://93.184.215.14/",
        {"url": "https://93.184.215.14/", "headers": {"X-A": "a\u0000b"}},
        {"url": "https://93.184.215.14/", "headers": {"X-A": "a\rb"}},
        {"url": "https://93.184.215.14/", "headers": {"X-A": "a\u007f"}},
        {"url": "https://93.184.215.14/", "headers": {"X-A\n": "a"}},
        {"url": "https://93.184.215.14/", "events": ["completed\n"]},
        {"url": "https://93.184.215.14/", "events": []},
    ],
)
def test_control_characters_and_near_misses_are_refused(bad) -> None:
    with pytest.raises(ValidationError):
        parse_webhook_option(bad)


def test_tabs_in_header_values_and_prefixed_events_are_taken() -> None:
    option = parse_webhook_option(
        {
            "url": "https://93.184.215.14/done?x=1",
            "events": ["batch.completed", "failed", "failed"],
            "headers": {"X-A": "a\tb"},
        }
    )
    assert option is not None
    assert option.as_json()["events"] == ["completed", "failed"]
    assert option.headers == {"X-A": "a\tb"}
