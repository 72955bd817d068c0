"""A real uvicorn process on the ASGI app (DEBUG off, the test database), for tests
where timing, memory or the event loop matter. Use with `transactional_db`: the server
is another process and sees committed rows only."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from tests.worker_fixtures import _test_database_env

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class LiveServer:
    base: str
    process: psutil.Process
    port: int

    def rss_mb(self) -> float:
        return float(self.process.memory_info().rss) / 1024**2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def live_server(
    *, gunicorn_workers: int = 0, log: Path | None = None, **env_extra: str
) -> Iterator[LiveServer]:
    """Start uvicorn with `env_extra` on top of the test environment; kill it after
    (SIGKILL if SIGTERM is not honoured: a blocked event loop never handles it).
    `gunicorn_workers`: gunicorn with that many uvicorn workers and the Procfile's
    hooks (pcf.gunicorn) instead, as in production. `log`: a file for its output."""
    port = _free_port()
    env = {
        **os.environ,
        **_test_database_env(),
        "DEBUG": "false",
        "SECRET_KEY": "test-secret-key-for-a-live-server",
        "PCF_RATE_LIMIT": "",
        **env_extra,
    }
    env.pop("PCF_DB_POOL", None)  # pcf.asgi turns the pool on by itself
    # The browser tests' own process needs it (tests/e2e/conftest.py); a server never.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    argv = [sys.executable, "-m", "uvicorn", "pcf.asgi:application", "--port", str(port)]
    argv += ["--log-level", "warning"]
    if gunicorn_workers:
        argv = [
            str(Path(sys.executable).with_name("gunicorn")), "pcf.asgi:application",
            "-k", "uvicorn_worker.UvicornWorker", "-c", "python:pcf.gunicorn",
            "-b", f"127.0.0.1:{port}", "-w", str(gunicorn_workers), "--log-level", "warning",
        ]  # fmt: skip
    output = open(log, "w") if log is not None else None  # noqa: SIM115 - closed below
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.1)
        yield LiveServer(base=base, process=psutil.Process(proc.pid), port=port)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if output is not None:
            output.close()
