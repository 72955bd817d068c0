"""Where this process's Prometheus samples go: prometheus_client's multiprocess mode.

With PROMETHEUS_MULTIPROC_DIR set, every process (gunicorn workers, Celery prefork
children) writes its counters and histograms to mmap files in that directory, and
`/metrics` on any web process adds them all up. Processes that share the directory may
live on different hosts or containers (docker compose: a shared volume), whose pids can
collide, so a file is named after host *and* pid, never pid alone.

Without it (tests, a single `manage.py runserver`), samples stay in this process's
memory and `/metrics` reports this process only: nothing breaks, nothing is written.

Nothing here imports Django: gunicorn's config and Celery's signals use it before
Django is set up."""

from __future__ import annotations

import contextlib
import glob
import os
import socket
from pathlib import Path

import psutil
from prometheus_client import multiprocess, values

ENV = "PROMETHEUS_MULTIPROC_DIR"
_HOST = socket.gethostname().replace("_", "-")  # `_` separates the parts of a file name


def directory() -> Path | None:
    """The shared directory, or None in single-process mode."""
    value = os.environ.get(ENV, "").strip()
    return Path(value) if value else None


def identity(pid: int | None = None) -> str:
    """This process's (or `pid`'s, on this host) name in the directory's file names."""
    return f"{_HOST}-{pid if pid is not None else os.getpid()}"


def configure() -> None:
    """Choose where samples go; call before any metric is created (pcf.metrics does).
    prometheus_client reads the variable when first imported; this re-decides with the
    host-qualified identity, and creates the directory if it is missing."""
    path = directory()
    if path is None:
        values.ValueClass = values.MutexValue
        return
    path.mkdir(parents=True, exist_ok=True)
    values.ValueClass = values.MultiProcessValue(process_identifier=identity)


def clean_dead(path: Path | None = None) -> int:
    """Remove the files of this host's processes that are gone (a previous run): what
    prometheus_client asks to wipe at start. Live processes' files, and other hosts'
    (whose liveness cannot be seen from here), are left alone, so a web server starting
    never blanks a running worker's samples. Returns how many files went."""
    path = path or directory()
    if path is None or not path.is_dir():
        return 0
    removed = 0
    for name in glob.glob(str(path / "*.db")):
        owner = Path(name).stem.rsplit("_", 1)[-1]
        host, _, pid = owner.rpartition("-")
        if host != _HOST or not pid.isdigit() or psutil.pid_exists(int(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):  # another process cleaned it first
            os.remove(name)
            removed += 1
    return removed


def mark_dead(pid: int) -> None:
    """Bookkeeping for a process that exited (prometheus_client's mark_process_dead):
    its live-gauge files go; its counters stay, so totals never go backwards."""
    path = directory()
    if path is not None and path.is_dir():
        multiprocess.mark_process_dead(identity(pid), str(path))
