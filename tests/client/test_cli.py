"""The `pcf` command as a user runs it: a subprocess against a real server and workers."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from resources.models import Resource
from tests.client.live import LiveServer, pcf_server, token  # noqa: F401
from tests.client.test_jobs import write_csv
from tests.worker_fixtures import Workers

PCF = str(Path(sys.executable).with_name("pcf"))
LINE = re.compile(r"^\[\s*(?P<t>[\d.]+)s\] (?P<text>.*)$")


def run_pcf(
    server: LiveServer, token: str, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PCF_URL": server.url, "PCF_TOKEN": token}
    return subprocess.run(
        [PCF, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


# CLI_IMPORT_ROWS=1000000 measures the 1M-row case (numbers: clients/python/README.md).
IMPORT_ROWS = int(os.environ.get("CLI_IMPORT_ROWS", "200000"))


@pytest.mark.slow
def test_import_shows_progress_every_second(
    pcf_server: LiveServer, token: str, celery_worker: Workers, tmp_path: Path
) -> None:
    # given IMPORT_ROWS rows (200,000), one in 10,000 of them invalid
    bad = IMPORT_ROWS // 10_000
    source = write_csv(tmp_path / "big.csv", IMPORT_ROWS, bad_every=10_000)
    # when `pcf import --lenient --watch` runs with its output captured (not a terminal)
    started = time.monotonic()
    done = run_pcf(
        pcf_server, token, "import", str(source),
        "--mapping", "name=Name,type=Type,metadata=json:Meta", "--lenient", "--watch",
        timeout=600,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    # then it succeeded and its last line states rows, failed rows and rows/s
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(
        rf"job_\w+ completed: {IMPORT_ROWS:,} rows, {bad} failed rows, [\d,]+ rows/s"
        r" in [\d.]+ s \(upload [\d.]+ s\)",
        last,
    ), last
    assert Resource.objects.count() == IMPORT_ROWS - bad
    # and the progress lines came at least once a second (2 s allowed for a busy machine)
    lines = [m for m in map(LINE.match, done.stderr.splitlines()) if m]
    times = [float(m["t"]) for m in lines]
    assert len(lines) >= int(elapsed) - 2, done.stderr
    assert max(b - a for a, b in itertools.pairwise(times)) <= 2.0, done.stderr
    job_lines = [m["text"] for m in lines if m["text"].startswith("job_")]
    assert any(re.search(r" [1-9][\d,]* rows/s ETA \d+:\d\d:\d\d", t) for t in job_lines), (
        done.stderr
    )
    assert f"{IMPORT_ROWS:,}/{IMPORT_ROWS:,} rows 100.0%" in job_lines[-1]
    gap = max(b - a for a, b in itertools.pairwise(times))
    print(
        f"\n{IMPORT_ROWS:,}-row CLI import: {elapsed:.1f} s wall, {len(lines)} progress lines,"
        f" largest gap {gap:.2f} s; {last}\n{done.stderr[-2000:]}"
    )


def test_batch_reads_json_lines_and_fails_when_an_operation_fails(
    pcf_server: LiveServer, token: str, tmp_path: Path
) -> None:
    # given three operations, the second invalid
    ops = tmp_path / "ops.jsonl"
    ops.write_text(
        "\n".join(
            json.dumps(op)
            for op in [
                {"method": "POST", "path": "/resources", "body": {"name": "a", "type": "image"}},
                {"method": "POST", "path": "/resources", "body": {"name": "b"}},
                {
                    "id": "third",
                    "method": "POST",
                    "path": "/resources",
                    "body": {"name": "c", "type": "video"},
                },
            ]
        )
        + "\n"
    )
    # when `pcf batch` runs them
    done = run_pcf(pcf_server, token, "batch", str(ops))
    # then one JSON result per line, in order, and a non-zero exit for the failure
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["id"], r["status"]) for r in results] == [("op1", 201), ("op2", 400), ("third", 201)]
    assert done.returncode == 1
    # and `resources list --json` shows what was created, one object a line
    listed = run_pcf(pcf_server, token, "resources", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["name"] for line in listed.stdout.splitlines()] == ["a", "c"]


def test_errors_are_reported_with_code_and_exit_1(pcf_server: LiveServer, token: str) -> None:
    done = run_pcf(pcf_server, token, "resources", "get", "res_missing")
    assert done.returncode == 1
    assert "NOT_FOUND" in done.stderr


def test_bulk_update_dry_run_then_real(pcf_server: LiveServer, token: str, tmp_path: Path) -> None:
    # given three drafts
    ops = tmp_path / "ops.jsonl"
    ops.write_text("".join(
        json.dumps({"method": "POST", "path": "/resources",
                    "body": {"name": f"d{i}", "type": "other", "status": "draft"}}) + "\n"
        for i in range(3)
    ))  # fmt: skip
    assert run_pcf(pcf_server, token, "batch", str(ops)).returncode == 0
    # when a dry run, then a real update, archive them
    dry = run_pcf(pcf_server, token, "bulk-update", "--filter", "status=draft",
                  "--set", "status=archived", "--dry-run", "--json")  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["matched_count"] == 3
    # then the dry run counted them and changed nothing; the real run archived them
    real = run_pcf(pcf_server, token, "bulk-update", "--filter", "status=draft",
                   "--set", "status=archived")  # fmt: skip
    assert real.returncode == 0 and "3 resources updated" in real.stdout
    assert Resource.objects.filter(status="archived").count() == 3


def _read_to_exit(master: int, timeout: float) -> str:
    """What the terminal showed until the command exited (or `timeout` passed)."""
    import select

    seen = ""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([master], [], [], min(remaining, 1.0))
        if ready:
            try:
                piece = os.read(master, 65536)
            except OSError:  # the command exited and closed the terminal
                break
            if not piece:
                break
            seen += piece.decode(errors="replace")
    return seen


def _read_until(master: int, pattern: str, timeout: float) -> str:
    """What the terminal showed until `pattern` appeared (regex), or fail."""
    import select

    seen = ""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, seen):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{pattern!r} never appeared in:\n{seen[-3000:]}"
        ready, _, _ = select.select([master], [], [], min(remaining, 1.0))
        if ready:
            try:
                seen += os.read(master, 65536).decode(errors="replace")
            except OSError:  # the command exited and closed the terminal
                raise AssertionError(f"exited before {pattern!r}:\n{seen[-3000:]}") from None
    return seen


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_asks_and_cancels_the_job(
    pcf_server: LiveServer, token: str, tmp_path: Path
) -> None:
    # given `pcf import --watch` running in a real terminal (a pty) on an import that
    # no worker runs yet (with workers, a quiet machine finished it before the answer)
    import pty
    import signal

    from jobs.models import Job

    source = write_csv(tmp_path / "big.csv", 20_000)
    master, slave = pty.openpty()
    env = {**os.environ, "PCF_URL": pcf_server.url, "PCF_TOKEN": token, "TERM": "xterm"}
    proc = subprocess.Popen(
        [PCF, "import", str(source), "--mapping", "name=Name,type=Type", "--lenient",
         "--chunk-size", "100", "--watch"],
        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    try:
        shown = _read_until(master, r"job_\w+", timeout=120)
        job_id = re.search(r"job_\w+", shown)[0]
        # when the user presses Ctrl-C, then the command asks whether to cancel
        os.kill(proc.pid, signal.SIGINT)
        shown += _read_until(master, rf"Cancel job {job_id}\?", timeout=30)
        # and answering yes cancels the job
        os.write(master, b"y\n")
        shown += _read_to_exit(master, timeout=120)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert Job.objects.get(pk=job_id).status == "cancelled", (proc.returncode, shown[-3000:])
