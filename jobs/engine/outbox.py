"""Webhooks from an outbox: a WebhookMessage row is written in the transaction that
settles its job, and every attempt is sent from that row, so a webhook survives a broker
flush or outage (the broker only carries "try this message now" nudges, which the
sweeper re-sends when lost). Delivery is at least once: a worker dying after the POST
but before recording it means one more POST, with the same X-PCF-Delivery-ID.

An attempt leases its message (`leased_until`) so two workers never post it at once;
its outcome (a WebhookDelivery row, and the message's next state) is recorded in one
transaction. Retries are due at `next_attempt_at`; the sweeper sends due messages."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from jobs import webhooks
from jobs.engine import broker, infra
from jobs.models import Job, WebhookDelivery, WebhookMessage, WebhookMessageStatus
from pcf import metrics
from pcf.exceptions import Conflict

logger = logging.getLogger("pcf.webhooks")

TASK = "jobs.tasks.deliver_webhook"
QUEUE = "webhooks"
# A message whose nudge was sent this long ago and that no worker leased since is sent
# again (the nudge was lost, e.g. a webhook worker died holding it).
REQUEUE_AFTER = timedelta(seconds=60)


def enqueue(job: Job) -> WebhookMessage | None:
    """Write the job's webhook to the outbox (in the settling transaction); None when
    the job has no webhook or does not want this event."""
    if not webhooks.wants_event(job):
        return None
    option = job.webhook or {}
    now = timezone.now()
    return WebhookMessage.objects.create(
        job=job,
        event=webhooks.event_name(job),
        url=option["url"],
        headers=option.get("headers") or {},
        body=webhooks.payload_body(job),
        next_attempt_at=now,
        enqueued_at=now,
    )


@transaction.atomic
def resend_last(job: Job) -> WebhookMessage:
    """Send the job's last webhook again (an operator's re-send), from the outbox like
    any delivery; return the message that will carry it. A message still pending is
    made due now rather than doubled; a delivered or failed one is copied into a new
    message (same event, URL, headers and body; a new delivery id, since receivers
    drop a delivery id they have seen). A settled job that never had a message (e.g.
    its webhook came before the outbox) gets one built now. Raises Conflict when the
    job is not settled or has no webhook for its event."""
    locked = Job.objects.select_for_update().get(pk=job.pk)
    if not locked.is_settled:
        raise Conflict(f"Job {job.id} is {locked.status}; its webhook is sent when it ends")
    now = timezone.now()
    last = WebhookMessage.objects.filter(job=locked).order_by("-created_at").first()
    if last is not None and last.status == WebhookMessageStatus.PENDING:
        WebhookMessage.objects.filter(pk=last.pk).update(next_attempt_at=now, enqueued_at=now)
        message = last
    elif last is not None:
        message = WebhookMessage.objects.create(
            job=locked, event=last.event, url=last.url, headers=last.headers, body=last.body,
            next_attempt_at=now, enqueued_at=now,
        )  # fmt: skip
    else:
        built = enqueue(locked)
        if built is None:
            raise Conflict(f"Job {job.id} has no webhook for its {locked.status} event")
        message = built
    transaction.on_commit(lambda: send_now([message.pk]))
    return message


def _nudge(message_id: Any, job_id: str, attempt: int) -> broker.Message:
    return broker.Message(
        task=TASK, args=(str(message_id),), task_id=f"{job_id}.webhook.{attempt}", queue=QUEUE
    )


def send_now(message_ids: list[Any]) -> None:
    """Nudge a worker to deliver these messages now (after the commit that wrote them).
    A broker that is down loses nothing: the sweeper sends due messages."""
    rows = WebhookMessage.objects.filter(pk__in=message_ids).values_list("pk", "job_id", "attempts")
    try:
        broker.send(_nudge(pk, job_id, attempts + 1) for pk, job_id, attempts in rows)
    except Exception:
        logger.warning("webhook nudge not sent; the sweeper will send it", exc_info=True)


def send_due(*, now: datetime, limit: int = 500) -> int:
    """Nudge every due message that no worker holds and that was not nudged recently
    (the sweeper); return how many."""
    with transaction.atomic():
        due = list(
            WebhookMessage.objects.select_for_update(skip_locked=True)
            .filter(status=WebhookMessageStatus.PENDING, next_attempt_at__lte=now)
            .exclude(leased_until__gte=now)
            .exclude(enqueued_at__gte=now - REQUEUE_AFTER)
            .order_by("next_attempt_at")
            .values_list("pk", "job_id", "attempts")[:limit]
        )
        if not due:
            return 0
        WebhookMessage.objects.filter(pk__in=[pk for pk, _, _ in due]).update(enqueued_at=now)
    try:
        broker.send(_nudge(pk, job_id, attempts + 1) for pk, job_id, attempts in due)
    except Exception:
        logger.warning("could not nudge %s due webhook(s)", len(due), exc_info=True)
        return 0
    return len(due)


def forget_nudges() -> None:
    """The broker lost its data: every pending message is due for a new nudge."""
    WebhookMessage.objects.filter(status=WebhookMessageStatus.PENDING).update(enqueued_at=None)


# Times come from this process's clock, like every other time the engine writes.
_LEASE_SQL = """
UPDATE jobs_webhookmessage SET leased_until = %(until)s, attempts = attempts + 1,
    enqueued_at = NULL
WHERE id = %(id)s AND status = 'pending' AND next_attempt_at <= %(now)s
  AND (leased_until IS NULL OR leased_until < %(now)s)
RETURNING attempts
"""


def _lease(message_id: str) -> int | None:
    # Long enough for an attempt (its deadline) and recording it, with room to spare.
    lease = timedelta(seconds=float(settings.PCF_WEBHOOK_TIMEOUT_SECONDS) * 3 + 30)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_LEASE_SQL, {"id": message_id, "now": now, "until": now + lease})
        row = cursor.fetchone()
    return int(row[0]) if row else None


def deliver(message_id: str) -> str:
    """Attempt one due message and record the outcome; return what happened. A
    database outage while recording is ridden out (the attempt is not repeated)."""
    attempt = infra.ride_out(lambda _first: _lease(message_id), what=f"webhook {message_id}")
    if attempt is None:
        return "skipped: not due, delivered already, or being attempted elsewhere"
    message = WebhookMessage.objects.select_related("job__tenant").get(pk=message_id)
    result = webhooks.post(
        url=message.url,
        body=message.body,
        secret=message.job.tenant.webhook_secret,
        delivery_id=str(message.pk),
        extra=message.headers or {},
    )
    infra.ride_out(lambda _first: _record(message, attempt, result), what=f"webhook {message_id}")
    if result.succeeded:
        return f"delivered on attempt {attempt}"
    return f"attempt {attempt} failed ({result.error})"


@transaction.atomic
def _record(message: WebhookMessage, attempt: int, result: webhooks.AttemptResult) -> None:
    now = timezone.now()
    retry_at = None
    if result.succeeded:
        status = WebhookMessageStatus.DELIVERED
    elif result.may_retry and attempt < int(settings.PCF_WEBHOOK_MAX_ATTEMPTS):
        status = WebhookMessageStatus.PENDING
        retry_at = now + timedelta(seconds=webhooks.backoff_seconds(attempt))
    else:
        status = WebhookMessageStatus.FAILED
    WebhookDelivery.objects.create(
        job_id=message.job_id,
        message=message,
        event=message.event,
        url=message.url,
        attempt=attempt,
        status_code=result.status_code,
        error=result.error,
        duration_ms=result.duration_ms,
        succeeded=result.succeeded,
        next_retry_at=retry_at,
    )
    WebhookMessage.objects.filter(pk=message.pk).update(
        status=status,
        leased_until=None,
        next_attempt_at=retry_at or message.next_attempt_at,
        last_error=result.error,
        finished_at=None if status == WebhookMessageStatus.PENDING else now,
    )
    counted = {
        WebhookMessageStatus.DELIVERED: "delivered",
        WebhookMessageStatus.PENDING: "retrying",
    }.get(status, "failed")
    transaction.on_commit(
        lambda: metrics.WEBHOOK_DELIVERIES.labels(outcome=counted).inc(), robust=True
    )
    if not result.succeeded:
        logger.info(
            "webhook %s for %s attempt %s failed: %s",
            message.event, message.job_id, attempt, result.error,
        )  # fmt: skip
