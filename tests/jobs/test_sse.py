"""GET /v1/jobs/{id}/progress through the ASGI application (as uvicorn serves it)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connection

import pcf.asgi
from jobs import sse
from jobs.engine import lifecycle
from tests.jobs.helpers import make_job
from tests.polling import wait_for_async
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

    async def scenario() -> Listening:
        # when a client listens (its first line, `retry:`, is sent once it has
        # subscribed to the job's progress), then the job starts
        listening = Listening(job.id, tenant.token)
        await wait_for_async(lambda: "retry:" in listening.text, timeout=60)
        await closing(lifecycle.job_start)(job=job, total=12)
        await asyncio.wait_for(listening.task, timeout=120)
        return listening

    response = asyncio.run(scenario())
    # then the stream has ordered progress events, then one `complete`, then it closed
    assert response.status == 200
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


class Listening:
    """A stream read as it arrives, by driving the ASGI application directly (httpx's
    ASGITransport returns a response only once the app has finished). `close()` is the
    client going away: Django notices the disconnect and ends the stream."""

    def __init__(self, job_id: str, token: str, **headers: str) -> None:
        self.text = ""
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self._gone = asyncio.Event()
        request_headers = {"authorization": f"Bearer {token}", **headers}
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": f"/v1/jobs/{job_id}/progress",
            "raw_path": f"/v1/jobs/{job_id}/progress".encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in request_headers.items()]
            + [(b"host", b"testserver")],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.task = asyncio.create_task(pcf.asgi.application(self.scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        if not hasattr(self, "_asked"):
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            self.text += message.get("body", b"").decode()

    def close(self) -> None:
        self._gone.set()

    @property
    def events(self) -> list[dict[str, Any]]:
        return parse_events(self.text)


def test_sse_heartbeats_and_many_streams_share_no_threads(tenant, settings) -> None:
    # given a queued job with no chunks and short heartbeats
    settings.PCF_SSE_HEARTBEAT_SECONDS = 0.2
    job = make_job(tenant.client_model, [], start=False)
    threads_before = threading.active_count()

    async def scenario() -> list[Listening]:
        # when as many clients as a tenant may have listen at once
        streams = [Listening(job.id, tenant.token) for _ in range(20)]
        # and every one of them has had a heartbeat
        await wait_for_async(lambda: all(": heartbeat" in s.text for s in streams))
        # then the streams do not hold a thread each (threads of requests that
        # started may take a moment to wind down: wait for it)
        await wait_for_async(lambda: threading.active_count() - threads_before < 10)
        # when the job then finishes (cancelled)
        await closing(lifecycle.job_cancel)(job=job)
        await asyncio.gather(*(s.task for s in streams))
        return streams

    streams = asyncio.run(scenario())
    # then each got heartbeats, then the final `error` (cancelled) event
    for listening in streams:
        assert listening.status == 200
        assert listening.events[-1]["event"] == "error"
        assert listening.events[-1]["data"]["status"] == "cancelled"


def test_sse_streams_per_tenant_are_capped_with_retry_after(tenant, other_tenant, settings) -> None:
    # given a cap of 3 open streams a tenant, and a queued job
    settings.PCF_SSE_MAX_STREAMS_PER_TENANT = 3
    settings.PCF_SSE_HEARTBEAT_SECONDS = 0.2
    job = make_job(tenant.client_model, [], start=False)
    other_job = make_job(other_tenant.client_model, [], start=False)

    async def scenario() -> None:
        # when the tenant holds 3 streams open
        held = [Listening(job.id, tenant.token) for _ in range(3)]
        await wait_for_async(lambda: all(": heartbeat" in s.text for s in held))
        # then a 4th is a 429 RATE_LIMITED with Retry-After, in the contract's shape
        refused = Listening(job.id, tenant.token)
        await wait_for_async(lambda: refused.status is not None)
        assert refused.status == 429
        await wait_for_async(lambda: refused.task.done())
        assert json.loads(refused.text)["error"]["code"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) > 0
        # and another tenant is not affected
        theirs = Listening(other_job.id, other_tenant.token)
        await wait_for_async(lambda: ": heartbeat" in theirs.text)
        # when one client goes away, a new stream is accepted again
        held[0].close()
        await wait_for_async(lambda: held[0].task.done())
        again = Listening(job.id, tenant.token)
        await wait_for_async(lambda: again.status is not None)
        assert again.status == 200
        for listening in [*held[1:], theirs, again]:
            listening.close()
        await asyncio.gather(*(s.task for s in [*held, theirs, again]))

    asyncio.run(scenario())


def test_sse_stream_ends_after_its_lifetime_and_resumes(tenant, settings) -> None:
    # given streams that live 1 second, and a queued job
    settings.PCF_SSE_MAX_STREAM_SECONDS = 1
    settings.PCF_SSE_HEARTBEAT_SECONDS = 0.2
    job = make_job(tenant.client_model, [], start=False)

    async def scenario() -> Listening:
        # when a client listens
        listening = Listening(job.id, tenant.token)
        # then the stream closes on its own
        await wait_for_async(lambda: listening.task.done(), timeout=30)
        return listening

    first = asyncio.run(scenario())
    # without a final event, asking the client to reconnect
    assert first.status == 200
    assert "reconnect" in first.text
    assert {e["event"] for e in first.events} <= {"progress"}
    # and a reconnect (Last-Event-ID, as EventSource sends it) gets the rest once the
    # job has finished
    lifecycle.job_cancel(job=job)
    resumed = asyncio.run(stream(job.id, tenant.token, **{"Last-Event-ID": "0"}))
    assert [e["event"] for e in parse_events(resumed.text)][-1] == "error"


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
