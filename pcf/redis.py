"""Shared Redis clients (progress store, idempotency locks, SSE pub/sub)."""

from __future__ import annotations

from functools import lru_cache

import redis
import redis.asyncio as aredis
from django.conf import settings


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=10, decode_responses=True)


def async_redis_client() -> aredis.Redis:
    # One per event loop; long pub/sub reads need no socket timeout (FIELD-NOTES: 5 s default).
    return aredis.Redis.from_url(settings.REDIS_URL, socket_timeout=None, decode_responses=True)
