"""Against a real server process: answers that would be hundreds of MB are cut by the
response budget before they are built, so the web process's memory stays bounded."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psutil
import pytest
from django.utils import timezone

from pcf.models import ApiClient
from resources.models import Resource
from tests.live_server import LiveServer, live_server

ROWS = 500  # one full page
METADATA = {"blob": "y" * 60 * 1024}  # ~60 KiB a row: a page is ~30 MiB
COPIES = 20  # reads of that page in one request: ~600 MB unbounded
MAX_GROWTH = 400 * 1024**2  # what the process may grow by while answering


@pytest.fixture
def server(transactional_db: None) -> Iterator[LiveServer]:
    with live_server() as running:
        yield running


@pytest.fixture
def big_tenant(transactional_db: None) -> tuple[ApiClient, str, list[str]]:
    client, token = ApiClient.issue("big")
    now = timezone.now()
    ids = [f"big{i}" for i in range(ROWS)]
    Resource.objects.bulk_create(
        [
            Resource(
                tenant=client,
                public_id=rid,
                name="n",
                type="other",
                metadata=METADATA,
                created_at=now,
                updated_at=now,
            )
            for rid in ids
        ]
    )
    return client, token, ids


def _peak_rss_while(process: psutil.Process, request: Callable[[], httpx.Response]) -> Any:
    """Send `request`, sampling the server's RSS meanwhile; returns (response, growth)."""
    before = process.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        response = request()
    finally:
        done.set()
        sampler.join(10)
    return response, peak - before


def test_a_batch_of_big_pages_is_cut_before_it_is_built(server, big_tenant):
    # given: COPIES reads of a ~30 MiB page in one batch (~600 MB unbounded)
    _, token, _ = big_tenant
    batch = {"operations": [{"method": "GET", "path": f"/resources?limit={ROWS}"}] * COPIES}
    # when
    response, growth = _peak_rss_while(
        server.process,
        lambda: httpx.post(
            f"{server.base}/v1/batch",
            json=batch,
            headers={"Authorization": f"Bearer {token}"},
            timeout=300,
        ),
    )
    # then: one page answered, every other read is 413 in its own result
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == [200] + [413] * (COPIES - 1)
    assert len(response.content) <= 32 * 1024**2
    # and the process grew by a small multiple of the budget, not of the whole answer
    assert growth < MAX_GROWTH, growth / 1024**2


def test_graphql_aliases_of_big_lists_are_cut_before_they_are_built(server, big_tenant):
    # given: COPIES aliases of the same 500 resources with their metadata
    _, token, ids = big_tenant
    id_list = ", ".join(f'"{rid}"' for rid in ids)
    aliases = " ".join(f"a{i}: resources(ids: [{id_list}]) {{ metadata }}" for i in range(COPIES))
    # when
    response, growth = _peak_rss_while(
        server.process,
        lambda: httpx.post(
            f"{server.base}/v1/graphql",
            json={"query": f"{{ {aliases} }}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=300,
        ),
    )
    # then: the first alias answered, the others are RESPONSE_TOO_LARGE errors
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["a0"] is not None
    assert all(body["data"][f"a{i}"] is None for i in range(1, COPIES))
    assert {e["extensions"]["code"] for e in body["errors"]} == {"RESPONSE_TOO_LARGE"}
    assert growth < MAX_GROWTH, growth / 1024**2
