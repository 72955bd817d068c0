"""`make run` keeps its stack up: a Procfile process that exits is started again
(pcf/respawn.py), under the real honcho, instead of taking every other process down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
RESPAWN = f"{sys.executable} -m pcf.respawn --"


def _starts(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_command_that_exits_is_started_again_until_told_to_stop(tmp_path: Path) -> None:
    # given a command that records each start and exits at once
    starts = tmp_path / "starts"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pcf.respawn", "--", "sh", "-c", f"echo x >> {starts}; exit 3"],
        cwd=ROOT,
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # then it is started again, with growing pauses (1 s, then 2 s)
        wait_for(lambda: _starts(starts) >= 3, timeout=30)
    finally:
        # and a SIGTERM to the group (as honcho sends) stops it for good
        os.killpg(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    count = _starts(starts)
    # Part of the scenario: nothing starts it any more, and a start that does not
    # happen has no event to wait for.
    time.sleep(1.5)
    assert _starts(starts) == count
    assert "exited with status 3" in stderr and "starting it again in 1s" in stderr
    assert "starting it again in 2s" in stderr


def test_honcho_keeps_the_stack_up_when_one_process_exits(tmp_path: Path) -> None:
    # given a Procfile like ours: a long-running process and one that dies young
    starts = tmp_path / "starts"
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        "steady: ${PCF_RESPAWN:-} sleep 60\n"
        f"flaky: ${{PCF_RESPAWN:-}} sh -c 'echo x >> {starts}; exit 1'\n"
    )
    honcho = str(Path(sys.executable).with_name("honcho"))
    env = {**os.environ, "PCF_RESPAWN": RESPAWN}
    proc = subprocess.Popen(
        [honcho, "-f", str(procfile), "-d", str(ROOT), "start"],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # when the flaky one has exited twice
        wait_for(lambda: _starts(starts) >= 2, timeout=30)
        # then honcho (and with it the steady process) is still running
        assert proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert "steady.1" in output


def test_without_the_prefix_honcho_stops_everything(tmp_path: Path) -> None:
    # the failure mode the prefix is for: plain honcho stops the stack on any exit
    procfile = tmp_path / "Procfile"
    procfile.write_text("steady: ${PCF_RESPAWN:-} sleep 60\nflaky: sh -c 'exit 1'\n")
    honcho = str(Path(sys.executable).with_name("honcho"))
    env = {k: v for k, v in os.environ.items() if k != "PCF_RESPAWN"}
    done = subprocess.run(
        [honcho, "-f", str(procfile), "-d", str(ROOT), "start"],
        env=env,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode != 0
