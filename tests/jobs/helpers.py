"""Helpers for the engine's tests: build jobs of `test.*` handlers and run them
in-process with the engine's own code (the same a worker runs)."""

from __future__ import annotations

from typing import Any

import tests.jobs.handlers  # noqa: F401 - registers the test.* handlers here too
from jobs.engine import checks, execution, lifecycle
from jobs.engine.lifecycle import ChunkInput, StagedChunk
from jobs.models import Chunk, Job
from jobs.parsing import WebhookOption
from pcf.models import ApiClient


def chunk_inputs(chunks: list[dict[str, Any]]) -> list[ChunkInput]:
    """One chunk per payload ({"names": [...]} for test.rows; {"rows": n} otherwise)."""
    return [
        ChunkInput(row_count=len(p.get("names", [])) or int(p.get("rows", 1)), payload=p)
        for p in chunks
    ]


def make_job(
    tenant: ApiClient,
    chunks: list[dict[str, Any]],
    *,
    handler: str = "test.rows",
    type: str = "bulk_import",
    webhook: WebhookOption | None = None,
    start: bool = True,
) -> Job:
    """A job with one chunk per payload; with start=False it is left unsealed (still
    being filled), so none of its chunks is ready."""
    if start:
        return lifecycle.job_submit(
            tenant=tenant,
            type=type,
            options={},
            webhook=webhook,
            handler=handler,
            chunks=chunk_inputs(chunks),
        )
    job = lifecycle.job_create(
        tenant=tenant, type=type, options={}, webhook=webhook, handler=handler
    )
    staged, offset = [], 0
    for seq, item in enumerate(chunk_inputs(chunks)):
        staged.append(StagedChunk(seq, offset, item))
        offset += item.row_count
    lifecycle.job_add_chunks(job=job, chunks=staged)
    return job


def run_pending(job: Job | str) -> Job:
    """Check what waits for its check, then apply what is pending, in seq order, as
    workers would (the last check makes the job's chunks ready, or fails it)."""
    job_id = job if isinstance(job, str) else job.id
    unchecked = list(
        Chunk.objects.filter(job_id=job_id, status="pending", checked=False)
        .order_by("seq")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(unchecked), 3):  # a few per call, as check messages take them
        checks.chunks_check(chunk_ids=unchecked[start : start + 3])
    for chunk_id in (
        Chunk.objects.filter(job_id=job_id, status="pending")
        .order_by("seq")
        .values_list("pk", flat=True)
    ):
        execution.chunk_run(chunk_id=chunk_id)
    return Job.objects.get(pk=job_id)
