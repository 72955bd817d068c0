"""Against a real server process: `parallel` batches never take the whole connection
pool of a web process; another tenant's request is served while they run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pcf.models import ApiClient
from tests.batch.helpers import RowLock
from tests.factories import ResourceFactory
from tests.live_server import LiveServer, live_server
from tests.polling import wait_for
from tests.waiting import waiting_on_locks

POOL_MAX = 6  # threads for parallel batches: PCF_BATCH_THREADS_MAX defaults to half
POOL_TIMEOUT_SECONDS = 20  # how long a request waits for a connection, then fails


@pytest.fixture
def server(transactional_db: None) -> Iterator[LiveServer]:
    # A pool timeout shorter than the test's patience: on a starved pool, requests fail.
    pool: dict[str, Any] = {
        "PCF_DB_POOL_MAX": str(POOL_MAX),
        "PCF_DB_POOL_TIMEOUT": str(POOL_TIMEOUT_SECONDS),
    }
    with live_server(**pool) as running:
        yield running


def test_parallel_batches_leave_connections_for_other_tenants(server: LiveServer) -> None:
    # given: a resource locked by another session, and two batches of 16 PATCHes of it
    # with parallel: 16, so every operation waits on the lock holding its connection
    attacker, attacker_token = ApiClient.issue("parallel")
    _, other_token = ApiClient.issue("bystander")
    ResourceFactory.create(tenant=attacker, public_id="hot")
    ops = [
        {"method": "PATCH", "path": "/resources/hot", "body": {"name": f"n{i}"}} for i in range(16)
    ]
    batch = {"operations": ops, "options": {"parallel": 16}}
    answers: list[Any] = []

    def send_batch() -> None:
        answers.append(
            httpx.post(
                f"{server.base}/v1/batch",
                json=batch,
                headers={"Authorization": f"Bearer {attacker_token}"},
                timeout=120,
            )
        )

    with RowLock("hot"):
        senders = [threading.Thread(target=send_batch, daemon=True) for _ in range(2)]
        for sender in senders:
            sender.start()
        # when: both batches are blocked (1 request thread + up to the slots each)
        wait_for(lambda: waiting_on_locks() >= 4, timeout=60, interval=0.1)
        started = time.monotonic()
        other = httpx.get(
            f"{server.base}/v1/resources",
            headers={"Authorization": f"Bearer {other_token}"},
            timeout=60,
        )
        elapsed = time.monotonic() - started

    # then: the other tenant was served, not failed at the pool's timeout (nothing
    # frees a connection before the lock is released, after this request)
    assert other.status_code == 200, other.text
    assert elapsed < POOL_TIMEOUT_SECONDS, elapsed
    # and both batches finished once the lock was released, every operation applied
    for sender in senders:
        sender.join(120)
    assert [a.status_code for a in answers] == [200, 200]
    assert all(a.json()["meta"]["successful"] == 16 for a in answers)
