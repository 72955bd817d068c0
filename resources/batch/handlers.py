"""The job engine's chunk handler for async batches (job type "batch").

It runs inside the chunk's transaction, so every operation is a savepoint there and
the engine commits the writes with the chunk's done mark: a redelivered chunk never
applies a batch twice. Operations run in order (no threads: they would commit
outside the chunk's transaction)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.handlers import ChunkOutcome, Wording, register_chunk_handler
from pcf.exceptions import RolledBack
from resources.batch.executor import run_batch
from resources.batch.parsing import BatchOptions, parse_operations
from resources.batch.representation import batch_response
from resources.batch.services import JOB_TYPE

if TYPE_CHECKING:
    from jobs.models import Chunk, Job


@register_chunk_handler(JOB_TYPE, wording=Wording(unit="operation", units="operations"))
def batch_chunk(job: Job, chunk: Chunk) -> ChunkOutcome:
    payload = chunk.payload or {}
    options = BatchOptions.from_json(payload.get("options") or {})
    operations = parse_operations(list(payload.get("operations") or []))
    outcome = run_batch(
        tenant=job.tenant, operations=operations, options=options, allow_threads=False
    )
    body = batch_response(
        operations=operations, outcome=outcome, suppress_success=options.suppress_success
    )
    meta = body["meta"]
    failed_op = next(
        (
            op.id
            for op, r in zip(operations, outcome.results, strict=True)
            if r.error is not None and not isinstance(r.error, RolledBack)
        ),
        None,
    )
    return ChunkOutcome(
        successful=meta["successful"],
        failed=meta["failed"],
        skipped=meta["skipped"],
        results=body["results"],
        meta=meta,
        fail_job=(
            f"Atomic batch rolled back: operation {failed_op!r} failed"
            if outcome.rolled_back
            else None
        ),
    )
