"""Worker heartbeats: each Celery worker writes what it consumes and with how many
processes into PostgreSQL every PCF_WORKER_HEARTBEAT_SECONDS, so the window grows and
shrinks with the fleet (`docker compose up --scale worker=N` needs no setting)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import connection
from django.utils import timezone

from jobs.engine import infra
from jobs.models import Worker

logger = logging.getLogger("pcf.jobs.heartbeat")

_stop = threading.Event()


def beat(*, hostname: str, queues: list[str], concurrency: int) -> None:
    """Record that this worker is alive now."""
    now = timezone.now()
    Worker.objects.update_or_create(
        hostname=hostname,
        defaults={"queues": ",".join(sorted(queues)), "concurrency": concurrency, "seen_at": now},
        create_defaults={
            "queues": ",".join(sorted(queues)),
            "concurrency": concurrency,
            "seen_at": now,
            "started_at": now,
        },
    )


def _loop(hostname: str, queues: list[str], concurrency: int) -> None:
    interval = float(settings.PCF_WORKER_HEARTBEAT_SECONDS)
    while not _stop.is_set():
        try:
            beat(hostname=hostname, queues=queues, concurrency=concurrency)
        except Exception as exc:
            logger.warning("heartbeat of %s not written: %r", hostname, exc)
            infra.drop_connections()
        _stop.wait(interval)
    connection.close()


@worker_ready.connect
def _start(sender: Any = None, **_: Any) -> None:
    controller = getattr(sender, "controller", None)
    if controller is None:
        return
    queues = sorted(sender.app.amqp.queues.consume_from)
    concurrency = int(getattr(controller, "concurrency", 1) or 1)
    _stop.clear()
    thread = threading.Thread(
        target=_loop,
        args=(controller.hostname, queues, concurrency),
        name="pcf-heartbeat",
        daemon=True,
    )
    thread.start()


@worker_shutdown.connect
def _stop_beating(sender: Any = None, **_: Any) -> None:
    _stop.set()
    hostname = getattr(sender, "hostname", None)
    if hostname:
        try:
            Worker.objects.filter(hostname=hostname).delete()
        except Exception:
            logger.info("could not remove the heartbeat of %s", hostname)
