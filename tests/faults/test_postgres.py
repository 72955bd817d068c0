"""PostgreSQL restarted, or down for 60 s, under a running 200,000-row import: the job
pauses, then completes with exactly its rows, and every process (web, both workers,
beat) recovers its connections by itself, so the job's webhook still arrives and no
process has to be restarted by hand (issue 10, "Done means" and item 3)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.helpers import MakeReceiver, StartStack
from tests.faults.outcome import (
    STALL_LIMIT_SECONDS,
    exact_import,
    import_outcome,
    webhook_events,
)
from tests.stack import (
    Stack,
    WebhookReceiver,
    upload_csv,
    wait_processing,
    watch_job,
    write_csv,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]

ROWS = 200_000
# 1,000 chunks of 200 rows: the job runs for several seconds on two worker processes,
# long enough to be caught in the middle, and every chunk is short, so when PostgreSQL
# goes away chunks are running, queued and waiting at once.
CHUNK_SIZE = 200
OUTAGE_SECONDS = 60
TENANTS = ("tenant-warm", "tenant-a")


def _import_through(
    stack: Stack, receiver: WebhookReceiver, tmp_path: Path, fault: Callable[[], None]
) -> None:
    """Given a stack that has delivered a webhook already (its webhook worker holds a
    database connection, as in any running deployment), run a 200,000-row import with a
    webhook, apply `fault` in the middle, then check everything issue 10 promises."""
    warm, token = stack.tokens["tenant-warm"], stack.tokens["tenant-a"]
    hook = {"url": receiver.url}  # every event: a failed job says so too
    with stack.client(warm) as client:
        warm_csv = write_csv(tmp_path / "warm.csv", 10)
        small = upload_csv(client, warm_csv, chunk_size=10, webhook=hook)
        assert webhook_events(receiver, small["job_id"], timeout=60), "no warm-up webhook"

    csv = write_csv(tmp_path / "import.csv", ROWS)
    with stack.client(token) as client:
        job_id = upload_csv(client, csv, chunk_size=CHUNK_SIZE, webhook=hook)["job_id"]
        before = wait_processing(client, job_id)
        fault()
        watch = watch_job(client, job_id, stall_limit=STALL_LIMIT_SECONDS, timeout=600)
    assert 0 < before["progress"]["processed"] < ROWS, f"not in the middle: {before}"
    outcome = import_outcome(stack, watch, tenant="tenant-a", receiver=receiver)
    expected = exact_import(stack, ROWS, webhook=True)
    assert outcome == expected, f"job: {watch.job}\n{stack.describe()}"


def test_import_survives_a_postgres_restart(
    start_stack: StartStack, webhook_receiver: MakeReceiver, tmp_path: Path
) -> None:
    # given a 200,000-row import with a webhook running on an owned stack
    stack = start_stack(tenants=TENANTS)
    receiver = webhook_receiver([200])

    # when PostgreSQL restarts (fast shutdown, then start) in the middle of it
    def restart() -> None:
        pid = stack.postgres.pid
        stack.postgres.restart()
        assert stack.postgres.pid != pid, "PostgreSQL did not restart"

    # then the job completes with exactly its rows, its webhook arrives, /healthz is
    # 200 again and every process still runs (checked in _import_through)
    _import_through(stack, receiver, tmp_path, restart)


def test_import_survives_postgres_down_for_a_minute(
    start_stack: StartStack, webhook_receiver: MakeReceiver, tmp_path: Path
) -> None:
    # given a 200,000-row import with a webhook running on an owned stack
    stack = start_stack(tenants=TENANTS)
    receiver = webhook_receiver([200])

    # when PostgreSQL is stopped in the middle of it and started again 60 s later
    def outage() -> None:
        stack.postgres.stop()
        assert not stack.postgres.is_up()
        time.sleep(OUTAGE_SECONDS)  # the outage itself: nothing to wait for
        stack.postgres.start()

    # then the job goes on within a minute of PostgreSQL's return and completes with
    # exactly its rows, its webhook arrives, /healthz is 200 again and every process
    # still runs (checked in _import_through)
    _import_through(stack, receiver, tmp_path, outage)
