"""gunicorn's hooks for the web server (`gunicorn -c python:pcf.gunicorn ...`, see the
Procfile): the metrics directory is cleaned of dead processes' files at start, and a
worker that exits is marked dead (prometheus_client's multiprocess bookkeeping)."""

from __future__ import annotations

from typing import Any

from pcf import metrics_process


def on_starting(server: Any) -> None:
    metrics_process.clean_dead()


def child_exit(server: Any, worker: Any) -> None:
    metrics_process.mark_dead(worker.pid)
