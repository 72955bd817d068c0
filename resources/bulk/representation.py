"""The answers of update-by-query and delete-by-filter run in the request (a run that
became a job answers with jobs.representation.job_accepted)."""

from __future__ import annotations

from typing import Any

from resources.bulk.services import BulkDeleteResult, BulkUpdateResult


def bulk_update_body(result: BulkUpdateResult) -> dict[str, Any]:
    """Counts and timing; `matched_count` on a dry run, `errors` per row that failed."""
    body: dict[str, Any] = {
        "updated_count": result.updated_count,
        "duration_ms": result.duration_ms,
        "details": {
            "successful": result.updated_count,
            "failed": result.failed,
            "skipped": result.skipped,
        },
    }
    if result.dry_run:
        body["matched_count"] = result.matched_count
    if result.failures:
        body["errors"] = [
            {"id": f.id, "code": "VALIDATION_ERROR", "field": "metadata", "message": f.message}
            for f in result.failures
        ]
    return body


def bulk_delete_body(result: BulkDeleteResult) -> dict[str, Any]:
    """The deleted ids and their count; `matched_count` on a dry run."""
    body: dict[str, Any] = {
        "deleted_count": len(result.deleted_ids),
        "deleted_ids": result.deleted_ids,
        "duration_ms": result.duration_ms,
    }
    if result.dry_run:
        body["matched_count"] = result.matched_count
    return body
