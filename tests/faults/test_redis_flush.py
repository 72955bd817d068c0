"""Redis (broker and progress store) flushed under a running import: the job makes
progress again within 60 s and completes with exactly its rows (issue 10, "Done
means"; API.md v1.1 "After broker data loss a job makes progress again within 60 s")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.helpers import StartStack
from tests.faults.outcome import STALL_LIMIT_SECONDS, exact_import, import_outcome
from tests.stack import upload_csv, wait_processing, watch_job, write_csv

pytestmark = [pytest.mark.faults, pytest.mark.slow]

ROWS = 200_000
# 1,000 chunks of 200 rows (see test_postgres): when Redis is flushed most of the job's
# chunks are still to run, so the job can only finish if lost messages are noticed.
CHUNK_SIZE = 200


def test_import_makes_progress_within_a_minute_of_a_flushall(
    start_stack: StartStack, tmp_path: Path
) -> None:
    # given a 200,000-row import running on an owned stack
    stack = start_stack()
    csv = write_csv(tmp_path / "import.csv", ROWS)
    with stack.client(stack.tokens["tenant-a"]) as client:
        job_id = upload_csv(client, csv, chunk_size=CHUNK_SIZE)["job_id"]
        before = wait_processing(client, job_id)

        # when Redis loses everything (queued messages, progress) in the middle of it
        stack.redis.flushall()

        # then the job never goes 60 s without progress and completes with exactly its
        # rows (watching stops at the first 60 s stall: the promise is broken by then)
        watch = watch_job(client, job_id, stall_limit=STALL_LIMIT_SECONDS, timeout=600)
    assert 0 < before["progress"]["processed"] < ROWS, f"not in the middle: {before}"
    outcome = import_outcome(stack, watch, tenant="tenant-a")
    assert outcome == exact_import(stack, ROWS), f"job: {watch.job}\n{stack.describe()}"
