"""`POST /v1/batch`: validate the envelope, enforce the limits, then run the
operations now or hand them to the job engine (`async`, or a `webhook`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from jobs.models import Job
from jobs.services import ChunkInput, job_submit
from pcf.models import ApiClient
from resources.batch.executor import run_batch
from resources.batch.parsing import (
    BatchOptions,
    check_limits,
    parse_envelope,
    parse_operations,
)
from resources.batch.representation import batch_response

JOB_TYPE = "batch"


@dataclass(frozen=True)
class BatchRan:
    """The batch ran in the request; `body` is its answer (batch_response)."""

    body: dict[str, Any]


@dataclass(frozen=True)
class BatchQueued:
    """The batch became a job, to run on a worker."""

    job: Job


def batch_submit(*, tenant: ApiClient, data: Any) -> BatchRan | BatchQueued:
    """Run the batch now, or queue it as a job (`async`, or a `webhook` to notify).

    Raises ValidationError (a malformed envelope) or BatchTooLarge before anything runs."""
    raw_operations, options = parse_envelope(data)
    check_limits(raw_operations)
    if options.run_async or options.webhook is not None:
        return BatchQueued(batch_enqueue(tenant=tenant, operations=raw_operations, options=options))
    return BatchRan(batch_run(tenant=tenant, raw_operations=raw_operations, options=options))


def batch_run(
    *,
    tenant: ApiClient,
    raw_operations: list[Any],
    options: BatchOptions,
    allow_threads: bool = True,
) -> dict[str, Any]:
    operations = parse_operations(raw_operations)
    outcome = run_batch(
        tenant=tenant, operations=operations, options=options, allow_threads=allow_threads
    )
    return batch_response(
        operations=operations, outcome=outcome, suppress_success=options.suppress_success
    )


@transaction.atomic
def batch_enqueue(*, tenant: ApiClient, operations: list[Any], options: BatchOptions) -> Job:
    """One `batch` job with one chunk: the batch keeps its order, its dependencies and,
    when atomic, its single transaction inside the chunk's."""
    payload = {"operations": operations, "options": options.as_json()}
    return job_submit(
        tenant=tenant,
        type=JOB_TYPE,
        options=options.as_json(),
        webhook=options.webhook,
        chunks=[ChunkInput(row_count=len(operations), payload=payload)],
    )
