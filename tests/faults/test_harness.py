"""The fault harness itself works: with no fault, an import on an owned stack completes
with exact rows. Every other fault test relies on this one passing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.helpers import StartStack
from tests.stack import (
    OwnedPostgres,
    OwnedRedis,
    tenant_rows,
    upload_csv,
    wait_finished,
    write_csv,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]

ROWS = 20_000


def test_import_without_fault_completes_with_exact_rows(
    start_stack: StartStack, tmp_path: Path
) -> None:
    # given an owned stack, one tenant and a 20,000-row CSV with unique names
    stack = start_stack()
    csv = write_csv(tmp_path / "import.csv", ROWS)
    with stack.client(stack.tokens["tenant-a"]) as client:
        # when it is imported with nothing going wrong
        accepted = upload_csv(client, csv, chunk_size=1000)
        job = wait_finished(client, accepted["job_id"], timeout=120)

    # then the job completed with every row written once, and every process still runs
    assert job["status"] == "completed", job
    assert job["progress"]["successful"] == ROWS, job
    rows = tenant_rows(stack.postgres, "tenant-a")
    assert (rows.count, rows.duplicates) == (ROWS, 0)
    assert all(stack.alive().values()), stack.describe()


def test_owned_servers_really_go_down_come_back_and_lose_data() -> None:
    # given an owned PostgreSQL and an owned Redis holding a key
    postgres = OwnedPostgres()
    redis_server = OwnedRedis()
    try:
        with redis_server.client() as client:
            client.set("key", "value")
            first_pid = postgres.pid

            # when each fault of the suite is applied, then it really happens
            postgres.stop()
            assert not postgres.is_up() and postgres.pid is None
            postgres.start()
            assert postgres.is_up()
            postgres.restart()
            assert postgres.is_up() and postgres.pid not in (None, first_pid)

            redis_server.flushall()
            assert client.dbsize() == 0
            client.set("key", "value")
            redis_server.restart()  # no persistence: the key is gone
            assert client.dbsize() == 0
    finally:
        redis_server.close()
        postgres.close()
    # and nothing is left behind
    assert not postgres.dir.exists() and not redis_server.dir.exists()
