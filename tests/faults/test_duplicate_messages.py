"""A backlog that outlasts the stale/start timeout gets no duplicate chunk messages: a
chunk that is only queued is never re-sent (issue 10, "Done means" and item 2)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.helpers import StartStack
from tests.polling import wait_for
from tests.stack import CHUNK_TASK, upload_csv, wait_finished, write_csv

pytestmark = [pytest.mark.faults, pytest.mark.slow]

ROWS = 100_000
# 2,000 chunks of 50 rows: two worker processes need many seconds to work through them,
# so most chunks wait far longer than the timeout below before a worker starts them
# (600 chunks once took only 5.2 s on a quiet machine: too short to prove anything).
CHUNK_SIZE = 50
CHUNKS = ROWS // CHUNK_SIZE
TIMEOUT_SECONDS = 3
# The sweeper re-sends window messages nobody started within
# PCF_DISPATCH_START_TIMEOUT_SECONDS and started ones no worker holds after
# PCF_DISPATCH_STALL_SECONDS (3 s in every stack). One chunk a message, so that every
# chunk's message is counted.
STALE_ENV = {
    "PCF_DISPATCH_START_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    "PCF_DISPATCH_STALL_SECONDS": str(TIMEOUT_SECONDS),
    "PCF_DISPATCH_GROUP_CHUNKS": "1",
}


def test_long_backlog_gets_no_duplicate_chunk_messages(
    start_stack: StartStack, tmp_path: Path
) -> None:
    # given a stack whose stale and start timeouts are 3 s, and a 2,000-chunk import
    stack = start_stack(env=STALE_ENV)
    csv = write_csv(tmp_path / "import.csv", ROWS)
    with stack.client(stack.tokens["tenant-a"]) as client:
        # when the import runs to the end with nothing going wrong
        job_id = upload_csv(client, csv, chunk_size=CHUNK_SIZE)["job_id"]
        accepted = time.monotonic()
        job = wait_finished(client, job_id, timeout=600)
        took = time.monotonic() - accepted
    # (every message sent has reached the worker once the chunk queue is empty)
    wait_for(lambda: stack.broker_backlog("chunks") == 0, timeout=120, what="queue drained")

    # then the worker received exactly one message per chunk: none was sent twice
    received = stack.received("chunks")
    chunk_messages = {task_id: n for (name, task_id), n in received.items() if name == CHUNK_TASK}
    assert job["status"] == "completed", job
    assert took > 2 * TIMEOUT_SECONDS, f"the backlog lasted {took:.1f}s only: make it longer"
    outcome = {
        "chunk messages": sum(chunk_messages.values()),
        "task ids received twice or more": sum(1 for n in received.values() if n > 1),
    }
    assert outcome == {"chunk messages": CHUNKS, "task ids received twice or more": 0}, (
        f"the job took {took:.1f}s"
    )
