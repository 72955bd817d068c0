"""The web tier as deployed: a real uvicorn process on the ASGI app, DEBUG off."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from pcf.models import ApiClient
from tests.live_server import live_server

POOL_MAX = 4


@pytest.fixture
def server(transactional_db: None) -> Iterator[tuple[str, psutil.Process]]:
    with live_server(PCF_DB_POOL_MAX=str(POOL_MAX)) as live:
        yield live.base, live.process


def _postgres_connections(process: psutil.Process) -> int:
    count = 0
    for conn in process.net_connections(kind="all"):
        raddr = conn.raddr
        if (isinstance(raddr, tuple) and raddr and raddr[1] == 5432) or (
            isinstance(raddr, str) and ".s.PGSQL" in raddr
        ):
            count += 1
    return count


def test_concurrent_requests_share_a_bounded_pool(server: tuple[str, psutil.Process]) -> None:
    # given a tenant and a web process whose pool holds at most POOL_MAX connections
    base, process = server
    _, token = ApiClient.issue("load")
    headers = {"Authorization": f"Bearer {token}"}

    # when 120 requests arrive at once
    def get(_: int) -> int:
        return httpx.get(f"{base}/v1/resources", headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=60) as pool:
        statuses = list(pool.map(get, range(120)))

    # then every one is served, and the process never held more than the pool
    assert statuses == [200] * 120
    assert _postgres_connections(process) <= POOL_MAX


def test_admin_and_api_docs_assets_are_served_without_debug(
    server: tuple[str, psutil.Process],
) -> None:
    # given the web process with DEBUG off and no collectstatic
    base, _ = server
    # when the admin stylesheet and the Swagger UI bundle are fetched
    css = httpx.get(f"{base}/static/admin/css/base.css", timeout=10)
    docs = httpx.get(f"{base}/v1/docs", timeout=10)
    bundle = httpx.get(
        f"{base}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js", timeout=10
    )
    # then all are there
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
    assert bundle.status_code == 200
