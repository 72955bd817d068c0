"""The batch answer on the wire (the cookbook's shape), synchronous or from a job."""

from __future__ import annotations

from typing import Any

from pcf.exceptions import RolledBack, Skipped
from resources.batch.executor import BatchOutcome
from resources.batch.parsing import Operation

NOT_RUN = (Skipped.code, RolledBack.code)  # counted as skipped; everything else >= 400 failed


def batch_response(
    *, operations: list[Operation], outcome: BatchOutcome, suppress_success: bool
) -> dict[str, Any]:
    """`{"results": [...], "meta": {...}}`: successes carry `body`; failures carry
    `error` and `originalOperation` (the operation as sent, ready to resend)."""
    results: list[dict[str, Any]] = []
    successful = failed = skipped = 0
    for op, result in zip(operations, outcome.results, strict=True):
        if result.ok:
            successful += 1
            if not suppress_success:
                results.append({"id": op.id, "status": result.status, "body": result.body})
            continue
        assert result.error is not None
        if result.error.code in NOT_RUN:
            skipped += 1
        else:
            failed += 1
        results.append(
            {
                "id": op.id,
                "status": result.status,
                "error": result.error.as_dict()["error"],
                "originalOperation": op.raw,
            }
        )
    return {
        "results": results,
        "meta": {
            "total_operations": len(operations),
            "successful": successful,
            "failed": failed,
            "skipped": skipped,
            "duration_ms": outcome.duration_ms,
        },
    }
