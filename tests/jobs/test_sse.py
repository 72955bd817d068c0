"""GET /v1/jobs/{id}/progress through the ASGI application (as uvicorn serves it)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connection

import pcf.asgi
from jobs import sse
from jobs.engine import lifecycle
from tests.jobs.helpers import make_job
from tests.waiting import wait_finished

pytestmark = [pytest.mark.django_db(transaction=True)]


def closing(fn: Any) -> Any:
    """Run `fn` on asgiref's thread, then close that thread's connection (teardown
    drops the test database, which an idle session would block)."""

    def call(**kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        finally:
            connection.close()

    return sync_to_async(call)


def parse_events(body: str) -> list[dict[str, Any]]:
    events = []
    for block in body.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            if name in ("id", "event", "data"):
                fields[name] = value
        if "event" in fields:
            fields["data"] = json.loads(fields["data"])
            events.append(fields)
    return events


async def stream(job_id: str, token: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=pcf.asgi.application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(
            f"/v1/jobs/{job_id}/progress",
            headers={"Authorization": f"Bearer {token}", **headers},
            timeout=60,
        )


def test_sse_is_an_async_view() -> None:
    # then the stream is served by a coroutine, not a thread
    assert asyncio.iscoroutinefunction(sse.job_progress)


@pytest.mark.slow
def test_sse_sends_ordered_progress_then_complete_and_resumes(tenant, celery_worker) -> None:
    # given a job whose chunks are not dispatched yet
    chunks = [{"names": [f"n{c}-{i}" for i in range(2)], "sleep": 0.15} for c in range(6)]
    job = make_job(tenant.client_model, chunks, start=False)

    async def scenario() -> httpx.Response:
        # when a client listens, then the job starts
        listening = asyncio.create_task(stream(job.id, tenant.token))
        await asyncio.sleep(0.5)
        await closing(lifecycle.job_start)(job=job, total=12)
        return await listening

    response = asyncio.run(scenario())
    # then the stream has ordered progress events, then one `complete`, then it closed
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "gzip" not in response.headers.get("content-encoding", "")
    events = parse_events(response.text)
    progress, final = events[:-1], events[-1]
    assert len(progress) >= 3
    assert all(e["event"] == "progress" for e in progress)
    ids = [int(e["id"]) for e in progress]
    assert ids == sorted(set(ids))
    processed = [e["data"]["processed"] for e in progress]
    assert processed == sorted(processed) and processed[-1] == 12
    assert set(progress[0]["data"]) >= {"processed", "total", "percentage", "successful", "failed"}
    assert progress[-1]["data"]["percentage"] == 100
    assert final["event"] == "complete"
    assert final["data"]["id"] == job.id and final["data"]["status"] == "completed"
    assert final["data"]["progress"]["processed"] == 12

    # when the client reconnects with the id of a middle event
    middle = ids[len(ids) // 2]
    resumed = parse_events(
        asyncio.run(stream(job.id, tenant.token, **{"Last-Event-ID": str(middle)})).text
    )
    # then it only gets what came after, and the final event
    assert [int(e["id"]) for e in resumed if e["event"] == "progress"] == [ids[-1]]
    assert resumed[-1]["event"] == "complete"
    # and with the last progress id: only the final event
    last = parse_events(
        asyncio.run(stream(job.id, tenant.token, **{"Last-Event-ID": str(ids[-1])})).text
    )
    assert [e["event"] for e in last] == ["complete"]


@pytest.mark.slow
def test_sse_failed_job_ends_with_error_event(tenant, celery_worker) -> None:
    # given a job that fails
    job = make_job(tenant.client_model, [{"names": ["x"], "fail_job": "strict validation failed"}])
    wait_finished(job)
    # when a client listens to the finished job
    events = parse_events(asyncio.run(stream(job.id, tenant.token)).text)
    # then it gets the final state at once: progress, then `error` with the job object
    assert [e["event"] for e in events] == ["progress", "error"]
    assert events[-1]["data"]["status"] == "failed"
    assert events[-1]["data"]["message"] == "strict validation failed"


def test_sse_heartbeats_and_many_streams_share_no_threads(tenant, settings) -> None:
    # given a queued job with no chunks and short heartbeats
    settings.PCF_SSE_HEARTBEAT_SECONDS = 0.2
    job = make_job(tenant.client_model, [], start=False)
    threads_before = threading.active_count()
    peak: list[int] = []

    async def scenario() -> list[httpx.Response]:
        # when 30 clients listen at once
        streams = [asyncio.create_task(stream(job.id, tenant.token)) for _ in range(30)]
        await asyncio.sleep(1.0)
        peak.append(threading.active_count())
        # and the job then finishes (cancelled)
        await closing(lifecycle.job_cancel)(job=job)
        return await asyncio.gather(*streams)

    responses = asyncio.run(scenario())
    # then the streams did not take a thread each
    assert peak[0] - threads_before < 10
    # and each got heartbeats, then the final `error` (cancelled) event
    for response in responses:
        assert ": heartbeat" in response.text
        events = parse_events(response.text)
        assert events[-1]["event"] == "error"
        assert events[-1]["data"]["status"] == "cancelled"


def test_sse_other_tenant_and_anonymous_are_refused(tenant, other_tenant) -> None:
    # given a job of one tenant
    job = make_job(tenant.client_model, [], start=False)
    # when another tenant asks for its stream
    response = asyncio.run(stream(job.id, other_tenant.token))
    # then it is a 404 in the contract's shape
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    # and without a valid token a 401
    anonymous = asyncio.run(stream(job.id, "nope"))
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHENTICATED"
