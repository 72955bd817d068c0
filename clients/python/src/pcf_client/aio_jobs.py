"""`AsyncJob`: the asyncio twin of jobs.AsyncJob (same behaviour, awaitable I/O).

`watch()` follows `GET /v1/jobs/{id}/progress` (Server-Sent Events). A stream that
drops, or that the server closes at its maximum lifetime, is opened again with
`Last-Event-ID`, so no progress is seen twice; when streams keep failing (a proxy
that buffers or refuses them, the per-tenant stream limit) it polls the job instead."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import httpx

from pcf_client.async_transport import AsyncTransport
from pcf_client.errors import (
    ApiError,
    JobFailed,
    RateLimited,
    ServerError,
    TransportError,
)
from pcf_client.jobs import _cell
from pcf_client.models import BatchReport, BatchResult, JobRowError, JobState, ProgressEvent
from pcf_client.sse import SseParser
from pcf_client.watching import (
    CONNECT_TIMEOUT,
    ERRORS_PAGE_SIZE,
    MAX_STREAM_FAILURES,
    StreamState,
    event_from_sse,
    poll_changed,
    sse_read_timeout,
)

# Failures of one stream that are worth opening another for; anything else
# (401, 404) is the caller's problem and raised.
_STREAM_FAULTS = (TransportError, httpx.TransportError, RateLimited, ServerError)


class AsyncJob:
    def __init__(
        self, transport: AsyncTransport, job_id: str, *, state: JobState | None = None,
        accepted: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self._t = transport
        self.id = job_id
        self.state = state
        # The 202 answer that started the job (imports add `total_rows`), if any.
        self.accepted = accepted or {}

    def __repr__(self) -> str:
        status = self.state.status if self.state else self.accepted.get("status", "?")
        return f"<AsyncJob {self.id} {status}>"

    async def refresh(self) -> JobState:
        response = await self._t.request("GET", f"/v1/jobs/{self.id}")
        self.state = JobState.from_dict(response.json())
        return self.state

    async def cancel(self) -> JobState:
        """Cancel: chunks not yet started never run. A finished job raises Conflict."""
        response = await self._t.request("POST", f"/v1/jobs/{self.id}/cancel")
        self.state = JobState.from_dict(response.json())
        return self.state

    async def wait(
        self, timeout: float | None = None, *, raise_on_failure: bool = False
    ) -> JobState:
        """Block until the job has finished (following its progress stream); the final
        job object. `raise_on_failure`: JobFailed if it ended failed or cancelled."""
        async for event in self.watch(timeout=timeout):
            if event.final and event.job is not None:
                self.state = event.job
        state = self.state if self.state and self.state.finished else await self.refresh()
        if raise_on_failure and state.status != "completed":
            raise JobFailed(state)
        return state

    async def watch(
        self, *, timeout: float | None = None, poll_interval: float = 1.0, sse: bool = True
    ) -> AsyncIterator[ProgressEvent]:
        """Progress events until the final `complete` / `error` event (which carries
        the job object). Raises WaitTimeout past `timeout` seconds."""
        state = StreamState(timeout)
        while sse and state.failures < MAX_STREAM_FAILURES:
            try:
                async for event in self._stream_once(state):
                    yield event
                    if event.final:
                        self.state = event.job
                        return
            except _STREAM_FAULTS as exc:
                retry_after = exc.retry_after if isinstance(exc, ApiError) else None
                await asyncio.sleep(state.failed(retry_after, self._t.retry))
            else:
                await asyncio.sleep(state.closed())
        async for event in self._poll(state, poll_interval):
            yield event

    async def _stream_once(self, state: StreamState) -> AsyncIterator[ProgressEvent]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if state.last_id is not None:
            headers["Last-Event-ID"] = state.last_id
        timeout = httpx.Timeout(CONNECT_TIMEOUT, read=sse_read_timeout(state))
        response = await self._t.open_stream(
            "GET", f"/v1/jobs/{self.id}/progress", headers=headers, timeout=timeout
        )
        state.opened()
        try:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                state.failures = MAX_STREAM_FAILURES  # not a stream at all: poll
                return
            parser = SseParser()
            async for line in response.aiter_lines():
                state.check_deadline()
                raw = parser.feed(line)
                event = event_from_sse(raw, state) if raw is not None else None
                if event is not None:
                    yield event
        finally:
            await response.aclose()

    async def _poll(self, state: StreamState, interval: float) -> AsyncIterator[ProgressEvent]:
        last: JobState | None = None
        while True:
            job = await self.refresh()
            if poll_changed(last, job):
                yield ProgressEvent.from_job(job)
            if job.finished:
                return
            last = job
            await asyncio.sleep(state.sleep_within(interval))

    async def errors(self, *, page_size: int = ERRORS_PAGE_SIZE) -> AsyncIterator[JobRowError]:
        """Every failed row, page by page (`GET /v1/jobs/{id}/errors`)."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if cursor:
                params["cursor"] = cursor
            response = await self._t.request("GET", f"/v1/jobs/{self.id}/errors", params=params)
            body = response.json()
            for item in body.get("data") or []:
                yield JobRowError.from_dict(item)
            cursor = (body.get("meta") or {}).get("next_cursor")
            if not cursor:
                return

    async def errors_csv(self, target: str | Path | IO[bytes]) -> int:
        """Download the failed rows as CSV (`?format=csv`) to a path or binary file;
        the number of bytes written."""
        response = await self._t.open_stream(
            "GET", f"/v1/jobs/{self.id}/errors", params={"format": "csv"}
        )
        written = 0
        try:
            if isinstance(target, str | Path):
                with open(target, "wb") as handle:
                    async for piece in response.aiter_bytes():
                        written += handle.write(piece)
            else:
                async for piece in response.aiter_bytes():
                    written += target.write(piece)
        finally:
            await response.aclose()
        return written

    async def results(self) -> BatchReport:
        """An async batch's results (`GET /v1/jobs/{id}/results`), once it finished."""
        response = await self._t.request("GET", f"/v1/jobs/{self.id}/results")
        body = response.json()
        results = [BatchResult.from_dict(r) for r in body.get("results") or []]
        return BatchReport(results=results, requests=1)


class AsyncJobGroup:
    """The jobs one call started (a `bulk_import` of more than 10,000 records is sent
    as several requests), followed as one: progress adds up, `errors()` gives each
    failed record's `index` in the caller's whole list."""

    def __init__(self, jobs: list[tuple[AsyncJob, int]]) -> None:
        self.jobs = [job for job, _ in jobs]
        self._offsets = {job.id: offset for job, offset in jobs}

    def __repr__(self) -> str:
        return f"<AsyncJobGroup {', '.join(j.id for j in self.jobs)}>"

    @property
    def total(self) -> int:
        return sum(int(j.accepted.get("total_rows") or 0) for j in self.jobs)

    async def wait(
        self, timeout: float | None = None, *, raise_on_failure: bool = False
    ) -> list[JobState]:
        deadline = None if timeout is None else time.monotonic() + timeout
        states = []
        for job in self.jobs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            states.append(await job.wait(left, raise_on_failure=raise_on_failure))
        return states

    async def watch(self, *, timeout: float | None = None) -> AsyncIterator[ProgressEvent]:
        """Progress of all jobs summed (followed one after the other; a later job that
        ran meanwhile is counted when its turn comes), then one final event."""
        deadline = None if timeout is None else time.monotonic() + timeout
        done = {"processed": 0, "successful": 0, "failed": 0, "skipped": 0}
        statuses = []
        for job in self.jobs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            async for event in job.watch(timeout=left):
                if event.final:
                    for key in done:
                        done[key] += getattr(event, key)
                    statuses.append(event.status)
                    continue
                yield self._summed(event, done, "progress", "processing")
        status = "completed" if all(s == "completed" for s in statuses) else "failed"
        kind = "complete" if status == "completed" else "error"
        yield self._summed(None, done, kind, status)

    def _summed(
        self, event: ProgressEvent | None, done: dict[str, int], kind: str, status: str
    ) -> ProgressEvent:
        value = {k: done[k] + (getattr(event, k) if event else 0) for k in done}
        total = self.total or value["processed"]
        pct = round(100.0 * value["processed"] / total, 1) if total else 100.0
        return ProgressEvent(
            kind=kind, event_id=None, processed=value["processed"], total=total,
            successful=value["successful"], failed=value["failed"], skipped=value["skipped"],
            percentage=pct, status=status,
        )  # fmt: skip

    async def cancel(self) -> list[JobState]:
        """Cancel every job still running; finished ones are left as they are."""
        states = []
        for job in self.jobs:
            try:
                states.append(await job.cancel())
            except ApiError as exc:
                if exc.status != 409:
                    raise
                states.append(await job.refresh())
        return states

    async def errors(self, *, page_size: int = ERRORS_PAGE_SIZE) -> AsyncIterator[JobRowError]:
        for job in self.jobs:
            offset = self._offsets[job.id]
            async for error in job.errors(page_size=page_size):
                yield JobRowError.from_dict(error.raw, index_offset=offset)

    async def errors_csv(self, target: str | Path | IO[bytes]) -> int:
        """All failed records as one CSV (the server's columns), `index` counted in
        the caller's whole list."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["row", "index", "field", "code", "message", "values"])
        async for error in self.errors():
            values = error.values if isinstance(error.values, str) else json.dumps(error.values)
            writer.writerow(
                [_cell(c) for c in (error.row or "", "" if error.index is None else error.index,
                                    error.field or "", error.code or "", error.message, values)]
            )  # fmt: skip
        data = buffer.getvalue().encode()
        if isinstance(target, str | Path):
            Path(target).write_bytes(data)
        else:
            target.write(data)
        return len(data)
