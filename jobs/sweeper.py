"""The sweeper: PostgreSQL, not the broker, says what is left to do.

Run by Celery beat every PCF_SWEEP_INTERVAL_SECONDS. Re-sends chunks that are pending
in a running job but whose last dispatch and last attempt are older than
PCF_CHUNK_STALE_SECONDS: their message was lost (Redis flushed or restarted without
persistence) or their worker host vanished. The same for checks of chunks staged for
checking; a job still in its check pass has none of its chunks applied. Sending twice
is harmless (services)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from jobs.models import ACTIVE_STATUSES, FINISHED_STATUSES, Chunk, ChunkStatus, Job
from jobs.services import (
    job_fail_interrupted,
    job_settle_abandoned,
    send_check_tasks,
    send_chunk_tasks,
)

# One sweep re-sends at most this many chunks; the next sweep takes the rest, so a
# huge backlog is never flooded into the broker at once.
SWEEP_BATCH = 5000


def stale_chunks(*, now: datetime | None = None) -> list[tuple[int, str, int]]:
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PCF_CHUNK_STALE_SECONDS)
    dispatched_long_ago = Q(dispatched_at__lt=cutoff) | Q(
        dispatched_at__isnull=True, job__sealed=True
    )
    no_recent_attempt = Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=cutoff)
    queryset = (
        Chunk.objects.filter(status=ChunkStatus.PENDING, job__status__in=ACTIVE_STATUSES)
        .filter(checked=True, job__chunks_unchecked=0)
        .filter(dispatched_long_ago, no_recent_attempt)
        .order_by("job_id", "seq")
        .values_list("pk", "job_id", "seq")[:SWEEP_BATCH]
    )
    return list(queryset)


def stale_checks(*, now: datetime | None = None) -> list[tuple[int, str, int]]:
    """Chunks of running jobs still waiting for a check sent longer ago than
    PCF_CHUNK_STALE_SECONDS (its message or its worker was lost)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PCF_CHUNK_STALE_SECONDS)
    no_recent_attempt = Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=cutoff)
    queryset = (
        Chunk.objects.filter(status=ChunkStatus.PENDING, job__status__in=ACTIVE_STATUSES)
        .filter(no_recent_attempt, checked=False, dispatched_at__lt=cutoff)
        .order_by("job_id", "seq")
        .values_list("pk", "job_id", "seq")[:SWEEP_BATCH]
    )
    return list(queryset)


def unsettled_jobs(*, now: datetime | None = None) -> list[str]:
    """Finished jobs (cancelled, failed) still waiting on a chunk with no recent attempt:
    a worker died while running it, so it never commits and never settles the job."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PCF_CHUNK_STALE_SECONDS)
    no_recent_attempt = Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=cutoff)
    queryset = (
        Chunk.objects.filter(
            status=ChunkStatus.PENDING,
            job__status__in=FINISHED_STATUSES,
            job__finished_at__isnull=True,
        )
        .filter(no_recent_attempt)
        .order_by("job_id")
        .values_list("job_id", flat=True)
        .distinct()[:SWEEP_BATCH]
    )
    return list(queryset)


def interrupted_uploads(*, now: datetime | None = None) -> list[str]:
    """Jobs still being filled (never started) that have not changed for
    PCF_UPLOAD_STALE_SECONDS: the web process filling them is gone."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PCF_UPLOAD_STALE_SECONDS)
    queryset = Job.objects.filter(
        status__in=ACTIVE_STATUSES, sealed=False, updated_at__lt=cutoff
    ).values_list("pk", flat=True)[:SWEEP_BATCH]
    return list(queryset)


def sweep() -> dict[str, int]:
    """Re-dispatch stale chunks and checks, settle abandoned finished jobs; return how
    many."""
    now = timezone.now()
    chunks = stale_chunks(now=now)
    if chunks:
        Chunk.objects.filter(pk__in=[pk for pk, _, _ in chunks]).update(dispatched_at=now)
        send_chunk_tasks(chunks)
    checks = stale_checks(now=now)
    if checks:
        Chunk.objects.filter(pk__in=[pk for pk, _, _ in checks]).update(dispatched_at=now)
        send_check_tasks(checks)
    stale_before = now - timedelta(seconds=settings.PCF_CHUNK_STALE_SECONDS)
    settled = sum(
        job_settle_abandoned(job_id=job_id, stale_before=stale_before)
        for job_id in unsettled_jobs(now=now)
    )
    upload_cutoff = now - timedelta(seconds=settings.PCF_UPLOAD_STALE_SECONDS)
    interrupted = sum(
        job_fail_interrupted(job_id=job_id, stale_before=upload_cutoff)
        for job_id in interrupted_uploads(now=now)
    )
    return {
        "redispatched": len(chunks),
        "rechecked": len(checks),
        "settled": settled,
        "interrupted": interrupted,
    }
