"""What the engine asks of the broker: send a task by name, how many messages wait in a
queue, and whether the broker lost its data since we last looked (its epoch).

Tasks are sent by name, so no engine module imports jobs.tasks (no import cycle)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from celery import current_app
from kombu.exceptions import ChannelError

from jobs.models import EngineState

logger = logging.getLogger("pcf.jobs.broker")

EPOCH_KEY = "pcf:broker-epoch"
_EPOCH_STATE = "broker_epoch"


@dataclass(frozen=True)
class Message:
    """A task to publish: its registered name, arguments, id and queue."""

    task: str
    args: Sequence[Any]
    task_id: str
    queue: str


def send(messages: Iterable[Message]) -> int:
    """Publish the messages through one producer; return how many were sent. Broker
    errors propagate: callers keep their own record in PostgreSQL and recover."""
    app = current_app
    sent = 0
    with app.producer_or_acquire() as producer:
        for message in messages:
            app.send_task(
                message.task,
                args=tuple(message.args),
                task_id=message.task_id,
                queue=message.queue,
                producer=producer,
            )
            sent += 1
    return sent


def _redis_client(channel: Any) -> Any | None:
    client = getattr(channel, "client", None)
    return client if client is not None and hasattr(client, "set") else None


def queue_length(queue: str) -> int | None:
    """Messages waiting in `queue` (not those a worker holds), or None when the broker
    cannot say."""
    try:
        with current_app.connection_for_read() as connection:
            channel: Any = connection.default_channel
            return int(channel.queue_declare(queue=queue, passive=True)[1])
    except ChannelError:
        return 0  # a queue with no message does not exist on Redis
    except Exception:
        logger.warning("could not read the length of queue %s", queue, exc_info=True)
        return None


def broker_lost_data() -> bool:
    """True when the broker lost its data (flushed, or restarted without persistence)
    since the last call: the epoch key it should hold is missing or not ours. A new
    epoch is written either way. False on first use and for brokers other than Redis.
    Raises on broker errors (the caller retries at its next run)."""
    with current_app.connection_for_write() as connection:
        client = _redis_client(connection.default_channel)
        if client is None:
            return False
        current = client.get(EPOCH_KEY)
        current = current.decode() if isinstance(current, bytes) else current
        known = EngineState.objects.filter(key=_EPOCH_STATE).values_list("value", flat=True)
        remembered = known.first()
        if current is not None and current == remembered:
            return False
        epoch = secrets.token_hex(8)
        # NX: a broker that still holds another epoch (two sweepers, say) keeps it.
        if not client.set(EPOCH_KEY, epoch, nx=True):
            value = client.get(EPOCH_KEY)
            epoch = value.decode() if isinstance(value, bytes) else str(value)
        EngineState.objects.update_or_create(key=_EPOCH_STATE, defaults={"value": epoch})
        return remembered is not None
