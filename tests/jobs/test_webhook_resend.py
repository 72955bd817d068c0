"""Re-sending a job's last webhook (jobs.services.job_webhook_resend): through the
outbox, a new delivery id for a message already delivered or given up, no double for
one still pending, refused for a running job or one without a webhook."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import services
from jobs.engine import execution, outbox
from jobs.models import Chunk, Job, WebhookDelivery, WebhookMessage
from jobs.parsing import parse_webhook_option
from pcf.exceptions import Conflict
from tests.jobs.helpers import make_job
from tests.jobs.test_webhooks import Receiver

pytestmark = pytest.mark.django_db


def _finished_job(tenant: Any, url: str | None) -> Job:
    webhook = parse_webhook_option({"url": url}) if url else None
    job = make_job(tenant.client_model, [{"names": ["a"]}], webhook=webhook)
    execution.chunk_run(chunk_id=Chunk.objects.get(job=job).pk)
    job.refresh_from_db()
    assert job.is_settled
    return job


def test_a_delivered_webhook_is_sent_again_under_a_new_delivery_id(
    tenant, allow_private_webhooks
) -> None:
    receiver = Receiver([200])
    try:
        # given a finished job whose webhook was delivered
        job = _finished_job(tenant, receiver.url)
        first = WebhookMessage.objects.get(job=job)
        assert outbox.deliver(str(first.pk)).startswith("delivered")
        # when an operator re-sends it, and a worker delivers the new message
        message = services.job_webhook_resend(job=job)
        assert outbox.deliver(str(message.pk)).startswith("delivered")
        # then the receiver got the same event and body twice, under two delivery ids
        assert message.pk != first.pk
        assert (message.event, message.url, message.body) == (first.event, first.url, first.body)
        assert [r["body"] for r in receiver.requests] == [first.body.encode()] * 2
        ids = [r["headers"]["X-PCF-Delivery-ID"] for r in receiver.requests]
        assert ids == [str(first.pk), str(message.pk)]
        assert WebhookDelivery.objects.filter(job=job, succeeded=True).count() == 2
    finally:
        receiver.close()


def test_a_pending_webhook_is_made_due_now_not_doubled(tenant, allow_private_webhooks) -> None:
    # given a finished job whose webhook waits for a retry an hour from now
    job = _finished_job(tenant, "http://127.0.0.1:9/hook")
    pending = WebhookMessage.objects.get(job=job)
    later = pending.next_attempt_at.replace(year=pending.next_attempt_at.year + 1)
    WebhookMessage.objects.filter(pk=pending.pk).update(next_attempt_at=later)
    # when an operator re-sends it
    message = services.job_webhook_resend(job=job)
    # then the same message is due now, and no second one exists
    message.refresh_from_db()
    assert message.pk == pending.pk
    assert message.next_attempt_at < later
    assert WebhookMessage.objects.filter(job=job).count() == 1


def test_a_running_job_or_one_without_webhook_is_refused(tenant, allow_private_webhooks) -> None:
    # given a job still running (never run), and a finished job without a webhook
    running = make_job(
        tenant.client_model,
        [{"names": ["a"]}],
        webhook=parse_webhook_option({"url": "http://127.0.0.1:9/hook"}),
    )
    silent = _finished_job(tenant, None)
    # when an operator re-sends their webhooks / then both are refused, nothing written
    with pytest.raises(Conflict, match="sent when it ends"):
        services.job_webhook_resend(job=running)
    with pytest.raises(Conflict, match="no webhook"):
        services.job_webhook_resend(job=silent)
    assert not WebhookMessage.objects.filter(job__in=[running, silent]).exists()


def test_a_settled_job_without_outbox_row_gets_one_built(tenant, allow_private_webhooks) -> None:
    # given a finished job with a webhook whose outbox row is gone (e.g. purged by hand)
    job = _finished_job(tenant, "http://127.0.0.1:9/hook")
    WebhookMessage.objects.filter(job=job).delete()
    # when an operator re-sends it / then a message is built from the job as it is now
    message = services.job_webhook_resend(job=job)
    assert message.event == "bulk_import.completed"
    assert f'"job_id":"{job.id}"' in message.body
