"""A real uvicorn process serving pcf.asgi against the test database, as deployed
(DEBUG off, the bounded pool, pcf.bodyguard in front). For tests where timing, memory
or the HTTP layer itself matters."""

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
    port: int
    process: psutil.Process

    def rss_mb(self) -> float:
        return float(self.process.memory_info().rss) / 1024**2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def live_server(**env_overrides: str) -> Iterator[LiveServer]:
    """Start uvicorn with the test database and `env_overrides`; stop it afterwards."""
    port = free_port()
    env = {
        **os.environ,
        **_test_database_env(),
        "DEBUG": "false",
        "SECRET_KEY": "test-secret-key-for-a-live-server",
        "PCF_RATE_LIMIT": "",
        **env_overrides,
    }
    env.pop("PCF_DB_POOL", None)  # pcf.asgi turns the pool on by itself
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "pcf.asgi:application", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    try:
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.1)
        yield LiveServer(base=base, port=port, process=psutil.Process(proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
