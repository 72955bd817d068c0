"""`python -m pcf.respawn -- COMMAND...`: run COMMAND and start it again whenever it
exits, until this process is told to stop.

`make run` prefixes each long-running Procfile entry with it (`${PCF_RESPAWN:-}`): honcho
stops the whole stack when one process exits, and a process can exit for reasons that
pass (celery beat losing its broker, a worker hitting an outage at start-up). Platforms
that run the Procfile themselves restart processes on their own and leave the prefix
empty; docker-compose.yml uses restart policies instead.

Restarts back off from 1 s to 30 s while the command keeps dying young, and start over
once it has run for a minute. SIGTERM, SIGINT and SIGHUP stop the respawning: the
command, which shares this process group (honcho signals the group), is waited for."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import FrameType

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
# A run this long counts as healthy: the next restart starts from FIRST_DELAY again.
HEALTHY_AFTER = 60.0

_stopping = False


def _stop(signum: int, frame: FrameType | None) -> None:
    global _stopping
    _stopping = True


def _pause(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not _stopping and time.monotonic() < deadline:
        time.sleep(0.1)


def run(command: list[str]) -> int:
    """Keep `command` running; return its last exit status once told to stop."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _stop)
    delay = FIRST_DELAY
    status = 0
    while not _stopping:
        started = time.monotonic()
        child = subprocess.Popen(command)  # noqa: S603 - the operator's own command line
        while True:
            try:
                status = child.wait()
                break
            except KeyboardInterrupt:  # pragma: no cover - SIGINT is handled above
                continue
        if _stopping:
            break
        lived = time.monotonic() - started
        if lived >= HEALTHY_AFTER:
            delay = FIRST_DELAY
        wait, delay = delay, min(delay * 2, MAX_DELAY)
        print(
            f"pcf.respawn: {command[0]} exited with status {status} after {lived:.1f}s;"
            f" starting it again in {wait:.0f}s",
            file=sys.stderr,
            flush=True,
        )
        _pause(wait)
    return status


def main(argv: list[str]) -> int:
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print("usage: python -m pcf.respawn -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    return run(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
