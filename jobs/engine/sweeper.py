"""The sweeper: PostgreSQL, not the broker, says what is left to do.

Celery beat runs it every PCF_SWEEP_INTERVAL_SECONDS (one sweep at a time: an advisory
lock). It finds window messages that will never run and sends them again:
- the broker lost its data (flushed, or restarted without persistence): its epoch key
  is gone, so every message not running right now is sent again, at once;
- a message a worker started but no longer runs (the worker died, or lost its
  connection and gave up): no advisory lock held on it for PCF_DISPATCH_STALL_SECONDS;
- a message nobody started within PCF_DISPATCH_START_TIMEOUT_SECONDS, only as many as
  the broker's queue lacks: a message that is merely queued behind others is never
  sent twice.
It also settles finished jobs whose last chunk's worker vanished, fails submissions
whose process died, nudges due webhooks, and refills the window."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from jobs.engine import broker, claims, dispatch, ledger, lifecycle, locks, outbox
from jobs.models import ACTIVE_STATUSES, FINISHED_STATUSES, Chunk, ChunkStatus, Dispatch, Job
from pcf import metrics

logger = logging.getLogger("pcf.jobs.sweeper")

# One sweep looks at this many rows of each kind at most; the next sweep takes the rest.
SWEEP_BATCH = 5000


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """One sweep; returns how many things it did of each kind (or {"skipped": 1} when
    another sweep is running)."""
    if not locks.try_hold(locks.SWEEPER):
        return {"skipped": 1}
    try:
        return _sweep(now or timezone.now())
    finally:
        try:
            locks.let_go(locks.SWEEPER)
        except Exception:
            connection.close()


def _sweep(now: datetime) -> dict[str, int]:
    actions: dict[str, int] = {}
    lost = _broker_lost()
    actions["broker_lost"] = int(lost)
    running = claims.running_dispatch_ids()
    with transaction.atomic():
        actions["idle_dropped"] = _drop_idle(running)
        if lost:
            outbox.forget_nudges()
            actions["resent_after_loss"] = dispatch.resend(_not_running(running), now=now)
        else:
            actions["resent_stalled"] = dispatch.resend(_stalled(running, now), now=now)
            actions["resent_unstarted"] = dispatch.resend(_unstarted_lost(now), now=now)
    actions["settled"] = _settle_abandoned(running, now)
    actions["interrupted"] = _fail_interrupted(now)
    actions["webhooks"] = outbox.send_due(now=now)
    actions["refilled"] = dispatch.refill()
    done = {k: v for k, v in actions.items() if v}
    if done:
        logger.info("sweep: %s", done)
    for action, count in done.items():
        metrics.SWEEPER_ACTIONS.labels(action=action).inc(count)
    return actions


def _broker_lost() -> bool:
    try:
        return broker.broker_lost_data()
    except Exception:
        logger.warning("could not read the broker's epoch", exc_info=True)
        return False


def _drop_idle(running: set[int]) -> int:
    """Messages none of whose chunks is pending any more (e.g. cancelled while queued)
    hold a window slot for nothing."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM jobs_dispatch d
            WHERE d.id <> ALL(%s) AND NOT EXISTS (
                SELECT 1 FROM jobs_chunk c WHERE c.dispatch_id = d.id AND c.status = 'pending'
            )
            """,
            [list(running)],
        )
        deleted: int = cursor.rowcount
    return deleted


def _not_running(running: set[int]) -> list[Dispatch]:
    return list(Dispatch.objects.exclude(pk__in=running).order_by("sent_at")[:SWEEP_BATCH])


def _stalled(running: set[int], now: datetime) -> list[Dispatch]:
    """Started, but no worker holds them any more, for a while."""
    stalled_before = now - timedelta(seconds=int(settings.PCF_DISPATCH_STALL_SECONDS))
    return list(
        Dispatch.objects.filter(started_at__lt=stalled_before)
        .exclude(pk__in=running)
        .order_by("started_at")[:SWEEP_BATCH]
    )


def _unstarted_lost(now: datetime) -> list[Dispatch]:
    """Messages not started within the timeout that the broker does not hold: as many
    of the oldest as its queue is short of the unstarted ones (the queue is FIFO, so
    the oldest unstarted are the ones it lost, or a dead worker took)."""
    timed_out_before = now - timedelta(seconds=int(settings.PCF_DISPATCH_START_TIMEOUT_SECONDS))
    lost: list[Dispatch] = []
    queues = Dispatch.objects.filter(started_at__isnull=True).values_list("queue", flat=True)
    for queue in sorted(set(queues)):
        unstarted = Dispatch.objects.filter(queue=queue, started_at__isnull=True)
        candidates = list(
            unstarted.filter(sent_at__lt=timed_out_before).order_by("sent_at")[:SWEEP_BATCH]
        )
        if not candidates:
            continue
        waiting = broker.queue_length(queue)
        missing = len(candidates) if waiting is None else unstarted.count() - waiting
        lost.extend(candidates[: max(0, missing)])
    return lost


def _settle_abandoned(running: set[int], now: datetime) -> int:
    """Finished jobs still waiting on a chunk no worker runs (its worker vanished while
    the job was cancelled or failed): that chunk never commits, so it is cancelled."""
    stale_before = now - timedelta(seconds=int(settings.PCF_DISPATCH_STALL_SECONDS))
    job_ids = list(
        Chunk.objects.filter(
            status=ChunkStatus.PENDING,
            job__status__in=FINISHED_STATUSES,
            job__finished_at__isnull=True,
        )
        .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=stale_before))
        .exclude(dispatch_id__in=running)
        .order_by("job_id")
        .values_list("job_id", flat=True)
        .distinct()[:SWEEP_BATCH]
    )
    settled = 0
    for job_id in job_ids:
        with transaction.atomic():
            list(Job.objects.select_for_update().filter(pk=job_id).values_list("pk"))
            with connection.cursor() as cursor:
                # SKIP LOCKED: a chunk still held by a live worker settles the job itself.
                cursor.execute(
                    """
                    UPDATE jobs_chunk SET status = 'cancelled', payload = NULL,
                        payload_text = NULL, dispatch_id = NULL
                    WHERE id IN (SELECT id FROM jobs_chunk
                                 WHERE job_id = %s AND status = 'pending'
                                   AND (dispatch_id IS NULL OR dispatch_id <> ALL(%s))
                                 FOR UPDATE SKIP LOCKED)
                    """,
                    [job_id, list(running)],
                )
            ledger.free_idle_dispatches(job_id)
            settled += int(ledger.settle(job_id))
    return settled


def _fail_interrupted(now: datetime) -> int:
    """Jobs still being filled (never sealed) that have not changed for
    PCF_UPLOAD_STALE_SECONDS: the process submitting them is gone."""
    cutoff = now - timedelta(seconds=int(settings.PCF_UPLOAD_STALE_SECONDS))
    job_ids = Job.objects.filter(
        status__in=ACTIVE_STATUSES, sealed=False, updated_at__lt=cutoff
    ).values_list("pk", flat=True)[:SWEEP_BATCH]
    return sum(lifecycle.job_fail_interrupted(job_id=j, stale_before=cutoff) for j in job_ids)


def stats() -> dict[str, Any]:
    """What the window holds now, for operators (admin, metrics)."""
    return {
        "in_flight": Dispatch.objects.count(),
        "started": Dispatch.objects.filter(started_at__isnull=False).count(),
        "window": dispatch.window_size(),
    }
