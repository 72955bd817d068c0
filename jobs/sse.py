"""GET /v1/jobs/{id}/progress: Server-Sent Events, served asynchronously (ASGI).

One coroutine per stream, no thread: it waits on the job's Redis pub/sub channel and
sends `progress` events (id = finished chunks, increasing), then one `complete`
(completed) or `error` (failed, cancelled) event carrying the job object, and closes.
PostgreSQL stays the truth: the stream starts from the job row, and re-reads it on
every heartbeat, so a missed message (Redis restarted, flushed) only delays an event.
`Last-Event-ID` resumes: only progress newer than that id is sent."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import SyncToAsync, sync_to_async
from django.conf import settings
from django.db import connection, connections
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase

from jobs import progress
from jobs.models import Job, JobStatus
from jobs.representation import job_data
from jobs.selectors import is_job_id
from jobs.sse_hub import progress_hub
from jobs.sse_slots import StreamSlot, claim_slot
from pcf.auth import aclient_from_header
from pcf.errors import as_pcf_error, error_response
from pcf.exceptions import MethodNotAllowed, NotFound, RateLimited
from pcf.models import ApiClient

logger = logging.getLogger("pcf.jobs.sse")

RETRY_MS = 3000
# A refused stream may retry after this long (streams of the tenant end all the time).
RETRY_AFTER_SECONDS = 5
FINAL_EVENT_ID = "final"
PROGRESS_FIELDS = (
    "processed", "total", "percentage", "successful", "failed", "skipped", "status"
)  # fmt: skip


def _event(name: str, data: dict[str, Any], event_id: str) -> str:
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _last_event_seq(raw: str | None) -> int:
    try:
        return int(raw) if raw else -1
    except ValueError:
        return -1  # "final" or junk: start from the current state


def _load_job(job_id: str) -> Job | None:
    try:
        return Job.objects.filter(pk=job_id).first()
    finally:
        # Runs on a shared pool thread: hold no connection between reads.
        connection.close()


async def _load(job_id: str) -> Job | None:
    return await sync_to_async(_load_job, thread_sensitive=False)(job_id)


async def _release_request_thread() -> None:
    """Give back the thread Django's ASGI handler keeps for each request's sync work
    (asgiref's per-request ThreadSensitiveContext), and its database connection, for as
    long as the stream stays open; Django makes a new one lazily at the request's end."""
    await sync_to_async(connections.close_all)()
    context = SyncToAsync.thread_sensitive_context.get(None)
    executor = SyncToAsync.context_to_thread_executor.pop(context, None) if context else None
    if executor is not None:
        executor.shutdown(wait=False)


def _final_event(job: Job) -> str:
    name = "complete" if job.status == JobStatus.COMPLETED else "error"
    return _event(name, job_data(job), FINAL_EVENT_ID)


async def _stream(job_id: str, after_seq: int, slot: StreamSlot | None) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    hub = progress_hub()
    heartbeat = float(settings.PCF_SSE_HEARTBEAT_SECONDS)
    ends_at = loop.time() + float(settings.PCF_SSE_MAX_STREAM_SECONDS)
    renewed_at = loop.time()
    sent = after_seq
    await _release_request_thread()
    # Listen before reading the row, so nothing between the two is missed.
    listener = await hub.listen(progress.channel(job_id))
    try:
        yield f"retry: {RETRY_MS}\n\n"
        job = await _load(job_id)
        if job is None:
            return
        snapshot = progress.snapshot(job)
        while True:
            if snapshot["seq"] > sent:
                data = {key: snapshot.get(key, 0) for key in PROGRESS_FIELDS}
                yield _event("progress", data, str(snapshot["seq"]))
                sent = snapshot["seq"]
            # Settled, not just finished: a chunk running at cancel time is counted first.
            if job is not None and job.is_settled:
                yield _final_event(job)
                return
            left = ends_at - loop.time()
            if left <= 0:
                # The client (EventSource) reconnects with Last-Event-ID and resumes.
                yield ": stream lifetime reached, reconnect\n\n"
                return
            if slot is not None and loop.time() - renewed_at >= heartbeat:
                await slot.renew()
                renewed_at = loop.time()
            message = await listener.next(min(heartbeat, left))
            if message is None:
                yield ": heartbeat\n\n"
                job = await _load(job_id)  # reconcile with the truth
            else:
                snapshot, job = json.loads(message), None
                if snapshot.get("status") not in ("queued", "processing"):
                    job = await _load(job_id)
            if job is not None:
                snapshot = progress.snapshot(job)
            elif message is None:
                return  # the job is gone
    finally:
        await hub.leave(listener)
        if slot is not None:
            await slot.release()


def _too_many_streams() -> RateLimited:
    limit = int(settings.PCF_SSE_MAX_STREAMS_PER_TENANT)
    return RateLimited(
        f"At most {limit} progress streams may be open at once; close one and retry",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _job_exists(tenant: ApiClient, job_id: str) -> bool:
    if not is_job_id(job_id):
        return False
    try:
        return Job.objects.filter(pk=job_id, tenant=tenant).exists()
    finally:
        connection.close()


async def job_progress(request: HttpRequest, job_id: str) -> HttpResponseBase:
    """The async view (errors in the contract shape, 404 for another tenant's job)."""
    try:
        if request.method != "GET":
            raise MethodNotAllowed(f"Method {request.method} not allowed", allow=("GET",))
        tenant = await aclient_from_header(request.headers.get("Authorization"))
        exists = await sync_to_async(_job_exists, thread_sensitive=False)(tenant, job_id)
        if not exists:
            raise NotFound(f"Job {job_id!r} not found")
    except Exception as exc:  # every failure answers in the contract shape
        return error_response(as_pcf_error(exc))
    slot = await claim_slot(progress_hub().commands, tenant)
    if slot is None:
        return error_response(_too_many_streams())
    after = _last_event_seq(request.headers.get("Last-Event-ID"))
    # Never compressed: GZipMiddleware would buffer the stream.
    request.META.pop("HTTP_ACCEPT_ENCODING", None)
    response = StreamingHttpResponse(_stream(job_id, after, slot), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer
    return response
