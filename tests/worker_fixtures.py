"""Real Celery worker processes for tests (owned by the job engine work; see jobs/).

`celery_worker` gives a `Workers` pool with at least one live worker consuming
`chunks,webhooks,celery` against the pytest-django *test* database and the test Redis.
Use it with `@pytest.mark.django_db(transaction=True)`: workers are other processes
and only see committed rows. Workers are shared by the whole session (start-up costs
~2 s); a test may kill one with SIGKILL (`kill9`) and start a fresh one (`start`).

Workers live only while tests ask for them: a test that does not request
`celery_worker` first stops the session's workers (and beat), because a live worker
consumes every chunk task any test dispatches, and would race a test that runs its
chunks in-process with `execution.chunk_run` (the chunk is locked or already done, so
the in-process run skips it). The next test that asks starts fresh workers on a
purged broker.

`celery_beat` adds a beat process that runs the sweeper every second, with window
messages re-sent after PCF_DISPATCH_START_TIMEOUT_SECONDS / PCF_DISPATCH_STALL_SECONDS
of 2 s (set for every test worker).

Worker environment: DATABASE_URL naming the test database (or PCF_EMBEDDED_DB_NAME in
embedded mode), REDIS_URL as the tests', PCF_WEBHOOK_ALLOW_PRIVATE=1 (receivers listen
on 127.0.0.1), fast webhook backoff, and PCF_EXTRA_HANDLER_MODULES naming the tests'
chunk handler modules (`EXTRA_HANDLER_MODULES`; append yours)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import pytest
import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
EXTRA_HANDLER_MODULES = ["tests.jobs.handlers"]
QUEUES = "chunks,webhooks,celery"
READY_TIMEOUT_SECONDS = 60

WORKER_ENV = {
    "PCF_WEBHOOK_ALLOW_PRIVATE": "1",
    "PCF_WEBHOOK_BACKOFF_BASE_SECONDS": "1",
    "PCF_WEBHOOK_BACKOFF_MAX_SECONDS": "4",
    "PCF_WEBHOOK_TIMEOUT_SECONDS": "5",
    "PCF_DISPATCH_START_TIMEOUT_SECONDS": "2",
    "PCF_DISPATCH_STALL_SECONDS": "2",
    "PCF_SWEEP_INTERVAL_SECONDS": "1",
    "PCF_CHUNK_MAX_RETRIES": "1",
    "PCF_WORKER_HEARTBEAT_SECONDS": "1",
}


def _celery() -> str:
    return str(Path(sys.executable).with_name("celery"))


def _test_database_env() -> dict[str, str]:
    name = connection.settings_dict["NAME"]
    url = os.environ.get("DATABASE_URL")
    if url:
        parts = urlsplit(url)
        return {"DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}"))}
    return {"PCF_EMBEDDED_DB_NAME": name}


class CeleryProcess:
    """One `celery` subprocess in its own process group, logging to a file."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_handle = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if not self.alive:
                raise RuntimeError(f"celery exited early:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"celery not ready after {timeout}s:\n{self.output()[-3000:]}")
            time.sleep(0.1)

    def pool_children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.popen.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill9(self) -> None:
        """SIGKILL the whole process group: main process and pool children at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._log_handle.close()

    def stop(self) -> None:
        if self.alive:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()
                return
            except ProcessLookupError:
                pass
        self._log_handle.close()


class Workers:
    """The session's worker processes; tests start, kill and inspect them."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env = env
        self.tmp = tmp
        self.workers: list[CeleryProcess] = []
        self.beat: CeleryProcess | None = None

    def start(self, *, concurrency: int = 2, queues: str = QUEUES) -> CeleryProcess:
        name = f"test-{uuid.uuid4().hex[:8]}@%h"
        argv = [
            _celery(), "-A", "pcf", "worker", "-Q", queues, "-c", str(concurrency),
            "-n", name, "-l", "info", "-P", "prefork",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        worker = CeleryProcess(argv, self.env, self.tmp / f"worker-{len(self.workers)}.log")
        self.workers.append(worker)
        worker.wait_for(" ready.")
        return worker

    def start_beat(self) -> CeleryProcess:
        if self.beat is None or not self.beat.alive:
            schedule = self.tmp / f"beat-schedule-{uuid.uuid4().hex[:6]}"
            argv = [
                _celery(), "-A", "pcf", "beat", "-l", "info",
                "-S", "celery.beat:PersistentScheduler", "-s", str(schedule),
            ]  # fmt: skip
            self.beat = CeleryProcess(argv, self.env, self.tmp / "beat.log")
            self.beat.wait_for("beat: Starting")
        return self.beat

    @property
    def alive(self) -> list[CeleryProcess]:
        return [w for w in self.workers if w.alive]

    def ensure_running(self) -> None:
        if not self.alive:
            # Tasks queued while no worker ran name rows of earlier tests: drop them.
            _purge_broker()
            self.start()

    def kill9(self, worker: CeleryProcess | None = None) -> None:
        """SIGKILL `worker` (default: every live worker)."""
        for target in [worker] if worker else self.alive:
            target.kill9()

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.beat is not None:
            self.beat.stop()


def _purge_broker() -> None:
    # Messages left by an earlier session name rows that no longer exist; drop them.
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL.replace("redis+socket", "unix"))
    client.delete(*QUEUES.split(","), "unacked", "unacked_index")


@pytest.fixture(scope="session")
def _celery_workers(django_db_setup: None, django_db_blocker: object) -> Iterator[Workers]:
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests' process only
    env.update(WORKER_ENV)
    env.update(_test_database_env())
    env["REDIS_URL"] = settings.REDIS_URL
    env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    extra = [m for m in os.environ.get("PCF_EXTRA_HANDLER_MODULES", "").split(",") if m]
    env["PCF_EXTRA_HANDLER_MODULES"] = ",".join([*extra, *EXTRA_HANDLER_MODULES])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    _purge_broker()
    global _session_workers
    with tempfile.TemporaryDirectory(prefix="pcf-workers-") as tmp:
        workers = Workers(env, Path(tmp))
        _session_workers = workers
        try:
            yield workers
        finally:
            _session_workers = None
            workers.stop_all()


# The session's pool once a test asked for it (read without instantiating the fixture).
_session_workers: Workers | None = None


@pytest.fixture(autouse=True)
def _workers_only_for_tests_that_ask(request: pytest.FixtureRequest) -> None:
    """Stop the session's workers before a test that did not ask for them (see the
    module docstring): its dispatched chunk tasks must stay in the broker, not run."""
    if "celery_worker" in request.fixturenames or _session_workers is None:
        return
    if _session_workers.alive or (_session_workers.beat and _session_workers.beat.alive):
        _session_workers.stop_all()


@pytest.fixture
def celery_worker(_celery_workers: Workers, transactional_db: None) -> Workers:
    """At least one live worker against the test database (see the module docstring)."""
    _celery_workers.ensure_running()
    return _celery_workers


@pytest.fixture
def celery_beat(celery_worker: Workers) -> Iterator[Workers]:
    """Workers plus a beat process running the sweeper every second. Beat stops when
    the test ends: a sweep running while the test database is flushed (one TRUNCATE of
    every table) could deadlock with it."""
    celery_worker.start_beat()
    yield celery_worker
    if celery_worker.beat is not None:
        celery_worker.beat.stop()
