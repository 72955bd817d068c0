"""Open SSE streams per tenant, counted in Redis across every web process.

A tenant may hold PCF_SSE_MAX_STREAMS_PER_TENANT streams (default 20); the next one is
a 429. Each open stream owns a member of a per-tenant sorted set, scored with the time
its claim expires. A live stream renews its claim on every heartbeat, so the claims of
a web process that crashed (its streams never said goodbye) expire within
`slot_ttl_seconds()`. Expired members are dropped whenever a stream starts. Redis's
own clock (TIME in the scripts) scores every claim, whatever the web hosts' clocks say.

When Redis is unavailable the cap is skipped rather than refusing streams (as the rate
limit does): progress then comes from PostgreSQL on heartbeats anyway."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aredis
from django.conf import settings

from pcf.models import ApiClient

logger = logging.getLogger("pcf.jobs.sse")

# KEYS[1]: the tenant's set. ARGV: ttl seconds, member, limit. 1 if claimed, else 0.
_CLAIM = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""
# KEYS[1]: the tenant's set. ARGV: ttl seconds, member.
_RENEW = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""


def slot_ttl_seconds() -> int:
    """How long a claim outlives its stream's last heartbeat: three heartbeats missed."""
    return int(3 * float(settings.PCF_SSE_HEARTBEAT_SECONDS)) + 5


def _key(tenant: ApiClient) -> str:
    # The token digest, not the row id: ids restart with a fresh database.
    return f"pcf:sse:streams:{tenant.token_hash[:24]}"


@dataclass
class StreamSlot:
    """One open stream's claim; `renew` on heartbeats, `release` when it ends."""

    client: aredis.Redis
    key: str
    member: str

    async def renew(self) -> None:
        await _quietly(self.client.eval(_RENEW, 1, self.key, slot_ttl_seconds(), self.member))

    async def release(self) -> None:
        await _quietly(self.client.zrem(self.key, self.member))


async def claim_slot(client: aredis.Redis, tenant: ApiClient) -> StreamSlot | None:
    """A slot for a new stream of `tenant`, or None when it has the maximum open.
    With Redis unavailable, a slot that counts nothing (see the module doc)."""
    slot = StreamSlot(client=client, key=_key(tenant), member=uuid.uuid4().hex)
    limit = int(settings.PCF_SSE_MAX_STREAMS_PER_TENANT)
    claimed = await _quietly(
        client.eval(_CLAIM, 1, slot.key, slot_ttl_seconds(), slot.member, limit)
    )
    return None if claimed == 0 else slot


async def open_streams(client: aredis.Redis, tenant: ApiClient) -> int:
    """How many unexpired claims `tenant` holds (for tests and operators)."""
    seconds, _ = await client.time()
    return int(await client.zcount(_key(tenant), f"({seconds}", "+inf"))


async def _quietly(command: Awaitable[Any]) -> Any:
    """The command's result, or None when Redis is unavailable."""
    try:
        return await command
    except (redis.RedisError, OSError):
        logger.warning("SSE stream cap skipped: Redis unavailable")
        return None
