"""`AsyncPcfClient`: the asyncio twin of client.PcfClient (same calls, awaitable)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from pcf_client import calls
from pcf_client.aio_jobs import AsyncJob, AsyncJobGroup
from pcf_client.async_transport import AsyncTransport
from pcf_client.batching import AdaptiveBatcher, BatchPlan, PendingOp, batch_options
from pcf_client.config import resolve_token, resolve_url
from pcf_client.errors import PayloadTooLarge
from pcf_client.models import BatchReport, BatchResult, BulkResult, JobState, Resource
from pcf_client.retry import RetryEvent, RetryHook, RetryPolicy
from pcf_client.upload import CsvSource, UploadProgress, multipart_stream, new_boundary
from pcf_client.wire import json_object, new_idempotency_key

T = TypeVar("T")

BULK_MAX_ITEMS = 10_000
# 413s that mean "send fewer operations at once" (RESPONSE_TOO_LARGE is per operation).
TOO_LARGE_CODES = frozenset({"BATCH_TOO_LARGE", "PAYLOAD_TOO_LARGE"})
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# The 202 of an import comes once the server has staged the whole file.
UPLOAD_TIMEOUT = httpx.Timeout(600.0, connect=10.0)


class AsyncPcfClient:
    """Asyncio client. `base_url` / `token` default to PCF_URL / PCF_TOKEN.

    Every call retries network faults and 429/502/503/504 with exponential backoff
    and jitter, never sooner than `Retry-After`; POSTs carry an Idempotency-Key so a
    retry is never applied twice. `on_retry` sees each retry before its wait."""

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        on_retry: RetryHook | None = None,
    ) -> None:
        self.base_url = resolve_url(base_url)
        self._t = AsyncTransport(
            self.base_url, resolve_token(token), timeout=timeout,
            retry=retry or RetryPolicy(), on_retry=on_retry,
        )  # fmt: skip

    async def aclose(self) -> None:
        await self._t.aclose()

    async def __aenter__(self) -> AsyncPcfClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _do(self, call: calls.Call[T]) -> T:
        response = await self._t.request(call.method, call.path, params=call.params, json=call.json)
        return call.parse(response)

    # Resources

    async def get_resource(self, resource_id: str) -> Resource:
        return await self._do(calls.get_resource(resource_id))

    async def create_resource(
        self, *, name: str, type: str, status: str | None = None,
        metadata: Mapping[str, Any] | None = None, id: str | None = None,
    ) -> Resource:  # fmt: skip
        fields = {"id": id, "name": name, "type": type, "status": status, "metadata": metadata}
        return await self._do(calls.create_resource(fields))

    async def update_resource(self, resource_id: str, **changes: Any) -> Resource:
        """PATCH: `metadata` merges (RFC 7396: a None value removes that key)."""
        return await self._do(calls.update_resource(resource_id, changes))

    async def delete_resource(self, resource_id: str, *, soft: bool = False) -> None:
        await self._do(calls.delete_resource(resource_id, soft))

    async def list_resources(
        self, *, page_size: int = calls.MAX_PAGE_SIZE, **filters: Any
    ) -> AsyncIterator[Resource]:
        """Every matching resource, following cursors page by page (filters: status,
        type, ids, created_before/after, updated_before/after)."""
        params = calls.list_params(filters, page_size)
        async for item in self._pages("/v1/resources", params):
            yield Resource.from_dict(item)

    async def _pages(self, path: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            query = {**params, "cursor": cursor} if cursor else params
            items, cursor = calls.page(await self._t.request("GET", path, params=query))
            for item in items:
                yield item
            if not cursor:
                return

    # Batches

    async def send_batch(
        self, operations: Sequence[Mapping[str, Any]], *, atomic: bool = False, **options: Any
    ) -> BatchReport:
        """One `POST /v1/batch` as given (atomic, references and depends_on work here,
        within the server's limits); `batch()` is for any number of operations."""
        body = {"operations": list(operations), "options": {**options, "atomic": atomic}}
        answer = json_object(await self._t.request("POST", "/v1/batch", json=body))
        results = [BatchResult.from_dict(r) for r in answer.get("results") or []]
        return BatchReport(results=results, requests=1)

    async def batch(self, operations: Iterable[Mapping[str, Any]], **kwargs: Any) -> BatchReport:
        """All results of `iter_batch()` (same arguments), in input order."""
        plan_box: list[BatchPlan] = []
        results = [r async for r in self.iter_batch(operations, _plan_box=plan_box, **kwargs)]
        return BatchReport(results=results, requests=plan_box[0].requests if plan_box else 0)

    async def iter_batch(
        self,
        operations: Iterable[Mapping[str, Any]],
        *,
        concurrency: int = 4,
        batch_size: int = 100,
        target_seconds: float = 1.0,
        idempotency_keys: bool = True,
        continue_on_error: bool = True,
        parallel: int | None = None,
        timeout_ms: int | None = None,
        suppress_success: bool = False,
        soft_delete: bool = False,
        batcher: AdaptiveBatcher | None = None,
        _plan_box: list[BatchPlan] | None = None,
    ) -> AsyncIterator[BatchResult]:
        """Send any number of independent operations (`{"method", "path", "body"?,
        "id"?}`) as batches within the server's limits, up to `concurrency` at once;
        yield each result in input order as soon as its turn comes. Operations are
        read lazily, so a generator of millions is fine. Batch size follows latency
        and 413s, concurrency follows 429s (see AdaptiveBatcher)."""
        batcher = batcher or AdaptiveBatcher(
            size=batch_size, target_seconds=target_seconds,
            max_concurrency=concurrency, concurrency=concurrency,
        )  # fmt: skip
        plan = BatchPlan(operations, batcher, keys=idempotency_keys)
        if _plan_box is not None:
            _plan_box.append(plan)  # lets batch() report how many requests it took
        options = batch_options(
            continue_on_error=continue_on_error, parallel=parallel, timeout_ms=timeout_ms,
            suppress_success=suppress_success, soft_delete=soft_delete,
        )  # fmt: skip
        in_flight: dict[asyncio.Task[tuple[dict[str, Any], float]], list[PendingOp]] = {}
        try:
            while True:
                while len(in_flight) < batcher.concurrency and (batch := plan.next_batch()):
                    task = asyncio.create_task(self._send_ops(batch, options, batcher))
                    in_flight[task] = batch
                if not in_flight:
                    break
                finished, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    batch = in_flight.pop(task)
                    try:
                        answer, seconds = task.result()
                    except PayloadTooLarge as exc:
                        if len(batch) == 1 or exc.code not in TOO_LARGE_CODES:
                            raise
                        plan.resend(batch)
                        continue
                    batcher.record(len(batch), seconds)
                    plan.complete(batch, answer)
                for result in plan.ready():
                    yield result
        finally:
            for task in in_flight:
                task.cancel()

    async def _send_ops(
        self, batch: list[PendingOp], options: dict[str, Any], batcher: AdaptiveBatcher
    ) -> tuple[dict[str, Any], float]:
        waited = 0.0

        def on_retry(event: RetryEvent) -> None:
            nonlocal waited
            waited += event.delay
            if event.status == 429:
                batcher.rate_limited()

        body = {"operations": [p.op for p in batch], "options": options}
        started = time.monotonic()
        response = await self._t.request("POST", "/v1/batch", json=body, hook=on_retry)
        # Latency of the server's work, not of our backoff waits.
        return json_object(response), max(0.0, time.monotonic() - started - waited)

    # Imports and bulk changes

    async def import_csv(
        self,
        source: str | Path | IO[bytes],
        *,
        mapping: Mapping[str, Any] | None = None,
        validation: str = "strict",
        dry_run: bool = False,
        chunk_size: int | None = None,
        upsert: bool | None = None,
        upsert_key: str | None = None,
        webhook: Any = None,
        on_upload: UploadProgress | None = None,
    ) -> AsyncJob:
        """Upload a CSV file (a path or an open binary file) as a `csv_import` job.
        The file streams gzipped on the fly, never read whole; a path (or a seekable
        file) is sent again from the start if the upload has to be retried."""
        src = CsvSource.of(source)
        options = calls.import_options(
            mapping=mapping, validation=validation, dry_run=dry_run, chunk_size=chunk_size,
            upsert=upsert, upsert_key=upsert_key, webhook=webhook,
        )  # fmt: skip
        boundary = new_boundary()

        async def body() -> AsyncIterator[bytes]:
            # Pieces are read and compressed in the loop's thread: 1 MiB at gzip level 1
            # is a few milliseconds.
            for piece in multipart_stream(src, options, boundary, on_upload):
                yield piece

        response = await self._t.request(
            "POST",
            "/v1/import/resources",
            content=body,
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Idempotency-Key": new_idempotency_key(),
            },
            retry=src.rewindable,
            timeout=UPLOAD_TIMEOUT,
        )
        accepted = json_object(response)
        return AsyncJob(self._t, str(accepted["job_id"]), accepted=accepted)

    async def bulk_import(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        upsert: bool | None = None,
        upsert_key: str | None = None,
        validate_before_import: bool | None = None,
        chunk_size: int | None = None,
        webhook: Any = None,
        per_request: int = BULK_MAX_ITEMS,
    ) -> AsyncJobGroup:
        """`POST /v1/bulk/resources`, one request (one job) per `per_request` records
        (the server takes at most 10,000), read lazily from `records`."""
        options = {
            "upsert": upsert, "upsert_key": upsert_key, "chunk_size": chunk_size,
            "validate_before_import": validate_before_import, "webhook": webhook,
        }  # fmt: skip
        started: list[tuple[AsyncJob, int]] = []
        iterator = iter(records)
        offset = 0
        size = max(1, min(per_request, BULK_MAX_ITEMS))
        while part := [dict(r) for r in itertools.islice(iterator, size)]:
            body = calls.bulk_import_body(part, options)
            accepted = json_object(await self._t.request("POST", "/v1/bulk/resources", json=body))
            started.append((AsyncJob(self._t, str(accepted["job_id"]), accepted=accepted), offset))
            offset += len(part)
        if not started:
            raise ValueError("bulk_import needs at least one record")
        return AsyncJobGroup(started)

    async def bulk_update(
        self, filter: Mapping[str, Any], update: Mapping[str, Any], *, dry_run: bool = False,
        limit: int | None = None,
    ) -> BulkResult:  # fmt: skip
        """Update by filter. Small matched sets answer at once (`count`); larger ones
        run as a job (`job_id`; follow it with `client.job(result.job_id)`)."""
        return await self._do(calls.bulk_update(filter, update, dry_run, limit))

    async def bulk_delete(
        self, filter: Mapping[str, Any], *, soft_delete: bool = False, dry_run: bool = False,
        limit: int | None = None,
    ) -> BulkResult:  # fmt: skip
        return await self._do(calls.bulk_delete(filter, soft_delete, dry_run, limit))

    # Jobs

    async def job(self, job_id: str) -> AsyncJob:
        """A handle on an existing job, with its current state."""
        state = await self._do(calls.get_job(job_id))
        return AsyncJob(self._t, job_id, state=state)

    async def list_jobs(
        self, *, status: str | None = None, type: str | None = None, page_size: int = 100
    ) -> AsyncIterator[JobState]:
        params: dict[str, Any] = {"limit": max(1, min(page_size, calls.MAX_PAGE_SIZE))}
        params.update({k: v for k, v in (("status", status), ("type", type)) if v})
        async for item in self._pages("/v1/jobs", params):
            yield JobState.from_dict(item)
