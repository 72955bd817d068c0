"""The Celery app. Workers read CELERY_* from Django settings."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    worker_init,
    worker_process_shutdown,
)

from pcf.logcontext import use_json
from pcf.metrics_process import clean_dead, mark_dead

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pcf.settings")

app = Celery("pcf")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _clean_metrics_dir(**_: Any) -> None:
    # The main worker process, before its pool starts: files of this host's processes
    # from an earlier run go (prometheus_client asks for a wipe at start-up).
    clean_dead()


@worker_process_shutdown.connect
def _metrics_process_dead(pid: int | None = None, **_: Any) -> None:
    mark_dead(pid or os.getpid())


@after_setup_logger.connect
@after_setup_task_logger.connect
def _json_logs(logger: logging.Logger | None = None, **_: Any) -> None:
    # Celery installs its own handlers in workers (and replaces Django's on the root
    # logger): with PCF_LOG_FORMAT=json they write JSON with the chunk's fields too.
    from django.conf import settings  # at call time: set up by then, not at import

    if logger is not None and settings.PCF_LOG_FORMAT == "json":
        use_json(logger)
