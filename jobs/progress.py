"""Live progress in Redis: a cache of the job's counters plus a pub/sub channel.

PostgreSQL holds the truth; every snapshot here is rebuilt from a Job row, so a lost or
flushed Redis only costs freshness (readers fall back to the database)."""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

import redis

from jobs.models import Job
from pcf.redis import redis_client

logger = logging.getLogger("pcf.jobs.progress")

CACHE_TTL_SECONDS = 7 * 24 * 3600


def channel(job_id: str) -> str:
    return f"pcf:job:{job_id}:events"


def cache_key(job_id: str) -> str:
    return f"pcf:job:{job_id}:progress"


def percentage(processed: int, total: int, finished: bool) -> int:
    if total <= 0:
        return 100 if finished else 0
    return min(100, processed * 100 // total)


def snapshot(job: Job) -> dict[str, Any]:
    """The progress event data; `seq` (finished chunks) orders snapshots."""
    return {
        "seq": job.chunks_finished,
        "status": job.status,
        "processed": job.processed,
        "total": job.total,
        "percentage": percentage(job.processed, job.total, job.is_finished),
        "successful": job.successful,
        "failed": job.failed,
        "skipped": job.skipped,
    }


def publish(job: Job) -> None:
    """Cache and announce the job's counters; Redis trouble never fails the caller."""
    _send(job.id, snapshot(job))


class CountsLike(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def chunks_finished(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def processed(self) -> int: ...
    @property
    def successful(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def skipped(self) -> int: ...


def publish_counts(job_id: str, counts: CountsLike) -> None:
    """Like publish(), from counters just read back from the job row (no query)."""
    _send(
        job_id,
        {
            "seq": counts.chunks_finished,
            "status": counts.status,
            "processed": counts.processed,
            "total": counts.total,
            "percentage": percentage(counts.processed, counts.total, False),
            "successful": counts.successful,
            "failed": counts.failed,
            "skipped": counts.skipped,
        },
    )


def _send(job_id: str, data: dict[str, Any]) -> None:
    encoded = json.dumps(data, separators=(",", ":"))
    try:
        pipe = redis_client().pipeline(transaction=False)
        pipe.set(cache_key(job_id), encoded, ex=CACHE_TTL_SECONDS)
        pipe.publish(channel(job_id), encoded)
        pipe.execute()
    except redis.RedisError:
        logger.warning("progress for %s not published (Redis unavailable)", job_id)


def cached(job_id: str) -> dict[str, Any] | None:
    try:
        raw = redis_client().get(cache_key(job_id))
    except redis.RedisError:
        return None
    return json.loads(raw) if isinstance(raw, str) else None


def reconcile(job: Job) -> dict[str, Any]:
    """Rewrite the cache from the database row (the truth); return the snapshot."""
    publish(job)
    return snapshot(job)
