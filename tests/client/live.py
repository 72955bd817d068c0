"""Real servers for the client's tests: a uvicorn process on the pytest-django test
database (as tests/pcf/test_asgi_server.py starts one), and a TCP relay in front of
it whose connections a test can cut, to drop an SSE stream for real.

Fixtures are imported by the test modules that use them (not from conftest), so only
the client's tests pay for a server process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from pcf.models import ApiClient
from tests.worker_fixtures import _test_database_env

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """One uvicorn process serving pcf.asgi (DEBUG off) with its own settings."""

    def __init__(self, env: dict[str, str], uvicorn_args: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            **_test_database_env(),
            "DEBUG": "false",
            "PCF_DB_POOL_MAX": "4",
            "PCF_RATE_LIMIT": "",
            **env,
        }
        full_env.pop("PCF_DB_POOL", None)  # pcf.asgi turns the pool on by itself
        argv = [sys.executable, "-m", "uvicorn", "pcf.asgi:application"]
        argv += ["--port", str(self.port), "--log-level", "warning", *uvicorn_args]
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=full_env)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


StartServer = Callable[..., LiveServer]


@pytest.fixture
def start_server(transactional_db: None) -> Iterator[StartServer]:
    """`start_server(env={...}, uvicorn_args=[...])` starts a server; all are stopped
    after the test. Workers and the server are other processes: they only see
    committed rows, hence transactional_db."""
    servers: list[LiveServer] = []

    def start(
        *, env: dict[str, str] | None = None, uvicorn_args: list[str] | None = None
    ) -> LiveServer:
        server = LiveServer(env or {}, uvicorn_args or [])
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def pcf_server(django_db_setup: None) -> Iterator[LiveServer]:
    """A server with default settings shared by a module's tests (each test still gets
    a clean database from transactional_db through `token`)."""
    server = LiveServer({}, [])
    yield server
    server.stop()


@pytest.fixture
def token(transactional_db: None) -> str:
    _, value = ApiClient.issue("client-tests")
    return value


class Relay:
    """A TCP relay (127.0.0.1:port → target), one thread pair per connection. It keeps
    what clients send (request heads: to see `Last-Event-ID`) and can cut every open
    connection at once, as a proxy or a network fault would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[bytes] = []
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._open += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        try:
            while data := source.recv(65536):
                if record:
                    with self._lock:
                        self.requests.append(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> int:
        """Close every open connection; the number closed."""
        with self._lock:
            victims, self._open = self._open, []
        for sock in victims:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        return len(victims) // 2

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self.cut()


@pytest.fixture
def relay(pcf_server: LiveServer) -> Iterator[Relay]:
    proxy = Relay(pcf_server.port)
    yield proxy
    proxy.close()
