"""One Redis pub/sub connection per web process for every SSE stream it serves.

A connection per stream let one tenant use up Redis connections that every tenant's
broker also needs. Here each event loop (a web process has one) holds one ProgressHub:
a single pub/sub connection (plus a small shared pool for the streams' other
commands), subscribed to the channels of the jobs someone is
watching (SUBSCRIBE on the first listener of a job, UNSUBSCRIBE after the last), and
one reader task that hands each message to the listeners of its channel. A listener
keeps only the newest snapshot: progress snapshots are cumulative, so a stream that
falls behind skips to the latest instead of queueing.

Redis trouble never fails a stream: a listener whose subscription failed simply hears
nothing, and the stream reconciles with PostgreSQL on every heartbeat. redis-py
reconnects the pub/sub connection and re-subscribes its channels by itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any

import redis
import redis.asyncio as aredis
from django.conf import settings

logger = logging.getLogger("pcf.jobs.sse")

# Pause after a failed read before trying again (Redis restarting, network).
READ_RETRY_SECONDS = 1.0
# Connections for the streams' plain commands; a stream waits for one (5 s at most).
COMMAND_CONNECTIONS = 4


class Listener:
    """One stream's view of a channel: the newest message not yet taken."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._latest: str | None = None
        self._arrived = asyncio.Event()

    def deliver(self, data: str) -> None:
        self._latest = data
        self._arrived.set()

    async def next(self, timeout: float) -> str | None:
        """The newest message, waiting up to `timeout` seconds; None if none came."""
        if self._latest is None:
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except TimeoutError:
                return None
        data, self._latest = self._latest, None
        self._arrived.clear()
        return data


class ProgressHub:
    """The event loop's shared subscription (see the module doc)."""

    def __init__(self) -> None:
        # Blocking pub/sub reads must not time out (FIELD-NOTES: redis-py's 5 s default).
        self._client = aredis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=None, decode_responses=True
        )
        self._pubsub = self._client.pubsub()
        # Plain commands of the streams (stream slots): a few connections, shared.
        self.commands = aredis.Redis(
            connection_pool=aredis.BlockingConnectionPool.from_url(
                settings.REDIS_URL,
                max_connections=COMMAND_CONNECTIONS,
                timeout=5,
                socket_timeout=5,
                decode_responses=True,
            )
        )
        self._listeners: dict[str, set[Listener]] = {}
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

    @property
    def channels(self) -> list[str]:
        return sorted(self._listeners)

    async def listen(self, channel: str) -> Listener:
        """A listener on `channel` (subscribing this process if it is the first)."""
        listener = Listener(channel)
        async with self._lock:
            listeners = self._listeners.get(channel)
            if not listeners:
                try:
                    await self._pubsub.subscribe(channel)
                except (redis.RedisError, OSError):
                    logger.warning("SSE for %s without pub/sub (Redis unavailable)", channel)
                    return listener  # not registered: it hears only heartbeats
                listeners = self._listeners[channel] = set()
                if self._reader is None or self._reader.done():
                    self._reader = asyncio.get_running_loop().create_task(self._read())
            listeners.add(listener)
        return listener

    async def leave(self, listener: Listener) -> None:
        """Forget `listener`; the last one of a channel unsubscribes the process."""
        async with self._lock:
            listeners = self._listeners.get(listener.channel)
            if listeners is None or listener not in listeners:
                return
            listeners.discard(listener)
            if listeners:
                return
            del self._listeners[listener.channel]
            # A lost connection has no subscription left to drop.
            with contextlib.suppress(redis.RedisError, OSError):
                await self._pubsub.unsubscribe(listener.channel)

    async def _read(self) -> None:
        try:
            while True:
                try:
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=None
                    )
                except (redis.RedisError, OSError):
                    logger.warning("SSE pub/sub read failed; retrying")
                    await asyncio.sleep(READ_RETRY_SECONDS)
                    continue
                if message is not None:
                    self._dispatch(message)
        finally:
            await self._close()

    def _dispatch(self, message: dict[str, Any]) -> None:
        for listener in tuple(self._listeners.get(message.get("channel") or "", ())):
            listener.deliver(message["data"])

    async def _close(self) -> None:
        try:
            await self._pubsub.aclose()
            await self._client.aclose()
            await self.commands.aclose()
        except (redis.RedisError, OSError, RuntimeError):
            pass


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ProgressHub] = (
    weakref.WeakKeyDictionary()
)


def progress_hub() -> ProgressHub:
    """The running event loop's hub (one per web process; tests run several loops)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = ProgressHub()
    return hub
