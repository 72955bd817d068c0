"""The shared Redis client (progress store, idempotency locks, rate limits). SSE streams
use the per-process hub of jobs/sse_hub.py instead (one pub/sub connection)."""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=10, decode_responses=True)
