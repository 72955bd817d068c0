"""Fairness across tenants: a small import of one tenant is never queued behind another
tenant's backlog (issue 10, "Done means" and item 1; API.md v1.1 "Fairness")."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.helpers import StartStack
from tests.stack import get_job, upload_csv, wait_finished, wait_processing, write_csv

pytestmark = [pytest.mark.faults, pytest.mark.slow]

BIG_ROWS = 1_000_000
SMALL_ROWS = 1_000
CHUNK_SIZE = 1_000
SMALL_JOB_SECONDS = 5.0


def test_small_import_is_not_queued_behind_another_tenants_million_rows(
    start_stack: StartStack, tmp_path: Path
) -> None:
    # given tenant A's 1,000,000-row import running (1,000 chunks of 1,000 rows)
    stack = start_stack(tenants=("tenant-a", "tenant-b"))
    big = write_csv(tmp_path / "a.csv", BIG_ROWS, prefix="a")
    small = write_csv(tmp_path / "b.csv", SMALL_ROWS, prefix="b")
    with (
        stack.client(stack.tokens["tenant-a"]) as a,
        stack.client(stack.tokens["tenant-b"]) as b,
    ):
        big_job = upload_csv(a, big, chunk_size=CHUNK_SIZE)["job_id"]
        wait_processing(a, big_job)

        # when tenant B submits a 1,000-row import
        small_job = upload_csv(b, small, chunk_size=CHUNK_SIZE)["job_id"]
        accepted = time.monotonic()

        # then B's job completes within 5 s of its 202, while A's is still running
        # (waiting on past 5 s only to say by how much it was late)
        done = wait_finished(b, small_job, timeout=600)
        took = time.monotonic() - accepted
        big_then = get_job(a, big_job)
    assert big_then is not None
    outcome = {
        "B status": done["status"],
        "B rows": done["progress"]["successful"],
        f"B done within {SMALL_JOB_SECONDS:.0f}s": took <= SMALL_JOB_SECONDS,
        "A still running": big_then["status"] == "processing",
    }
    assert outcome == {
        "B status": "completed",
        "B rows": SMALL_ROWS,
        f"B done within {SMALL_JOB_SECONDS:.0f}s": True,
        "A still running": True,
    }, f"B took {took:.1f}s; A then: {big_then['status']} {big_then['progress']}"
