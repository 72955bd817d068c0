"""The sweeper: PostgreSQL, not the broker, says what is left to do.

Run by Celery beat every PCF_SWEEP_INTERVAL_SECONDS. Re-sends chunks that are pending
in a running job but whose last dispatch and last attempt are older than
PCF_CHUNK_STALE_SECONDS: their message was lost (Redis flushed or restarted without
persistence) or their worker host vanished. Sending twice is harmless (services)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from jobs.models import ACTIVE_STATUSES, Chunk, ChunkStatus
from jobs.services import send_chunk_tasks

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
        .filter(dispatched_long_ago, no_recent_attempt)
        .order_by("job_id", "seq")
        .values_list("pk", "job_id", "seq")[:SWEEP_BATCH]
    )
    return list(queryset)


def sweep() -> dict[str, int]:
    """Re-dispatch stale chunks; return how many."""
    now = timezone.now()
    chunks = stale_chunks(now=now)
    if chunks:
        Chunk.objects.filter(pk__in=[pk for pk, _, _ in chunks]).update(dispatched_at=now)
        send_chunk_tasks(chunks)
    return {"redispatched": len(chunks)}
