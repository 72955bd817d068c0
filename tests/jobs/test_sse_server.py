"""SSE against real uvicorn processes (issue 11, item 6): the per-tenant cap holds across
web processes and survives one crashing, and a process keeps one Redis subscription per
watched job whatever the number of streams."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from django.conf import settings

from jobs import progress
from tests.jobs.helpers import make_job
from tests.live_server import LiveServer, live_server
from tests.polling import wait_for_async

pytestmark = [pytest.mark.django_db(transaction=True)]

SERVER_ENV: dict[str, Any] = {
    "PCF_SSE_MAX_STREAMS_PER_TENANT": "3",
    "PCF_SSE_HEARTBEAT_SECONDS": "1",
}


@pytest.fixture(scope="module")
def servers(django_db_setup: None) -> Iterator[tuple[LiveServer, LiveServer]]:
    with live_server(**SERVER_ENV) as first, live_server(**SERVER_ENV) as second:
        yield first, second


class Watching:
    """One client reading a progress stream over HTTP as it arrives."""

    def __init__(self, client: httpx.AsyncClient, url: str, token: str) -> None:
        self.status: int | None = None
        self.text = ""
        self.task = asyncio.create_task(self._read(client, url, token))

    async def _read(self, client: httpx.AsyncClient, url: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with client.stream("GET", url, headers=headers, timeout=120) as response:
                self.status = response.status_code
                async for chunk in response.aiter_text():
                    self.text += chunk
        except httpx.TransportError:
            self.text += "\n<connection lost>"

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def watch(client: httpx.AsyncClient, server: LiveServer, job_id: str, token: str) -> Any:
    watching = Watching(client, f"{server.base}/v1/jobs/{job_id}/progress", token)
    await wait_for_async(lambda: watching.status is not None)
    if watching.status == 200:
        await wait_for_async(lambda: "retry:" in watching.text)
    return watching


def subscribers(job_id: str) -> int:
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return int(client.pubsub_numsub(progress.channel(job_id))[0][1])
    finally:
        client.close()


def test_the_stream_cap_holds_across_processes_and_outlives_a_crash(
    servers: tuple[LiveServer, LiveServer], tenant: Any
) -> None:
    first, second = servers
    job = make_job(tenant.client_model, [], start=False)

    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            # given a tenant with 2 streams on one web process and 1 on another (cap 3)
            held = [await watch(client, first, job.id, tenant.token) for _ in range(2)]
            held.append(await watch(client, second, job.id, tenant.token))
            assert [w.status for w in held] == [200, 200, 200]
            # when it opens a 4th on either process, then it is a 429 with Retry-After
            for server in (first, second):
                refused = await watch(client, server, job.id, tenant.token)
                assert refused.status == 429
                await refused.close()
            # when the first process dies without closing its streams
            first.process.kill()
            first.process.wait(10)
            # then its 2 slots are still counted for now (a 429 at once)
            assert (await watch(client, second, job.id, tenant.token)).status == 429
            # but they expire within a few missed heartbeats: a new stream is accepted
            accepted: list[Any] = []

            async def one_more() -> bool:
                attempt = await watch(client, second, job.id, tenant.token)
                accepted.append(attempt)
                return attempt.status == 200

            await wait_for_async(one_more, timeout=60, interval=0.5)
            for watching in [*held, *accepted]:
                await watching.close()

    asyncio.run(scenario())


def test_one_redis_subscription_per_process_whatever_the_streams(tenant: Any) -> None:
    # given one web process (default cap of 20) and a queued job
    job = make_job(tenant.client_model, [], start=False)
    with live_server(PCF_SSE_HEARTBEAT_SECONDS="1") as server:

        async def scenario() -> None:
            async with httpx.AsyncClient() as client:
                # when 12 clients watch the job through that process
                streams = [await watch(client, server, job.id, tenant.token) for _ in range(12)]
                assert all(w.status == 200 for w in streams)
                # then Redis sees one subscriber to the job's channel, not 12
                assert subscribers(job.id) == 1
                # and once they all went away, none
                for watching in streams:
                    await watching.close()
                await wait_for_async(lambda: subscribers(job.id) == 0)

        asyncio.run(scenario())
