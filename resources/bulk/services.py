"""Update-by-query and delete-by-filter as a request or a job.

A matched set of at most PCF_BULK_SYNC_LIMIT rows is written in the request, in one
transaction. A larger set becomes a bulk_update / bulk_delete job: the rows are cut into
primary-key (seq) ranges of PCF_BULK_CHUNK_ROWS, each range its own chunk transaction,
so no statement holds many row locks for long. Both write through
resources.services (`update_rows` / `delete_rows`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from jobs.models import Job
from jobs.parsing import WebhookOption
from jobs.services import ChunkInput, job_submit
from pcf.models import ApiClient
from resources.bulk.parsing import BulkDeleteRequest, BulkUpdateRequest
from resources.filters import ResourceFilter
from resources.services import (
    RowFailure,
    count_matching,
    delete_rows,
    matching,
    update_rows,
)


def chunk_rows() -> int:
    """Rows per job chunk (settings.PCF_BULK_CHUNK_ROWS, default 1,000): one chunk is one
    transaction holding this many row locks. A 1,000-row merge UPDATE takes tens of
    milliseconds here (docs/graphql.md, "Measured")."""
    return int(settings.PCF_BULK_CHUNK_ROWS)


@dataclass
class BulkUpdateResult:
    matched_count: int
    updated_count: int
    failed: int
    skipped: int
    duration_ms: int
    dry_run: bool
    failures: list[RowFailure] = field(default_factory=list)
    job: Job | None = None


@dataclass
class BulkDeleteResult:
    matched_count: int
    deleted_ids: list[str]
    duration_ms: int
    dry_run: bool
    errors: list[str] = field(default_factory=list)
    job: Job | None = None


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def bulk_update(*, tenant: ApiClient, request: BulkUpdateRequest) -> BulkUpdateResult:
    """Run an update-by-query: dry run, in the request, or as a job (see module doc)."""
    started = time.monotonic()
    limit = request.options.limit
    matched = count_matching(tenant=tenant, spec=request.spec, limit=limit)
    if request.options.dry_run:
        return BulkUpdateResult(matched, 0, 0, 0, _elapsed_ms(started), dry_run=True)
    if matched > settings.PCF_BULK_SYNC_LIMIT:
        job = _start_job(
            tenant=tenant,
            job_type="bulk_update",
            spec=request.spec,
            limit=limit,
            payload={"filter": request.filter_raw, "update": request.update_raw},
            options={"filter": request.filter_raw, "update": request.update_raw, "limit": limit},
            webhook=request.options.webhook,
        )
        return BulkUpdateResult(matched, 0, 0, 0, _elapsed_ms(started), dry_run=False, job=job)
    with transaction.atomic():
        outcome = update_rows(tenant=tenant, spec=request.spec, patch=request.patch, limit=limit)
    failed = len(outcome.failures)
    return BulkUpdateResult(
        matched_count=matched,
        updated_count=outcome.successful,
        failed=failed,
        # Matched when counted, gone (deleted, or no longer matching) when written.
        skipped=max(0, matched - outcome.successful - failed),
        duration_ms=_elapsed_ms(started),
        dry_run=False,
        failures=outcome.failures,
    )


def bulk_delete(*, tenant: ApiClient, request: BulkDeleteRequest) -> BulkDeleteResult:
    """Run a delete-by-filter: dry run, in the request, or as a job."""
    started = time.monotonic()
    options = request.options
    matched = count_matching(tenant=tenant, spec=request.spec, limit=options.limit)
    if options.dry_run:
        return BulkDeleteResult(matched, [], _elapsed_ms(started), dry_run=True)
    if matched > settings.PCF_BULK_SYNC_LIMIT:
        job = _start_job(
            tenant=tenant,
            job_type="bulk_delete",
            spec=request.spec,
            limit=options.limit,
            payload={"filter": request.filter_raw, "soft_delete": options.soft_delete},
            options={
                "filter": request.filter_raw,
                "soft_delete": options.soft_delete,
                "limit": options.limit,
            },
            webhook=options.webhook,
        )
        return BulkDeleteResult(matched, [], _elapsed_ms(started), dry_run=False, job=job)
    with transaction.atomic():
        deleted = delete_rows(
            tenant=tenant, spec=request.spec, soft=options.soft_delete, limit=options.limit
        )
    return BulkDeleteResult(matched, deleted, _elapsed_ms(started), dry_run=False)


def plan_ranges(
    *, tenant: ApiClient, spec: ResourceFilter, limit: int | None, rows_per_chunk: int
) -> list[tuple[int, int, int]]:
    """Cut the matched set (first `limit` by seq) into (first seq, last seq, rows) ranges
    of `rows_per_chunk` rows each, in one query. The last range ends at the last matched
    row, so rows created after the request are never touched."""
    inner = matching(tenant=tenant, spec=spec).values("seq")
    if limit is not None:
        inner = inner[:limit]
    inner_sql, inner_params = inner.query.sql_with_params()
    query = (
        "SELECT min(seq), max(seq), count(*) FROM ("  # noqa: S608
        "SELECT seq, (row_number() OVER (ORDER BY seq) - 1) / %s AS bucket "
        f"FROM ({inner_sql}) AS matched) AS numbered GROUP BY bucket ORDER BY bucket"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [rows_per_chunk, *inner_params])
        return [(int(lo), int(hi), int(n)) for lo, hi, n in cursor.fetchall()]


@transaction.atomic
def _start_job(
    *,
    tenant: ApiClient,
    job_type: str,
    spec: ResourceFilter,
    limit: int | None,
    payload: dict[str, Any],
    options: dict[str, Any],
    webhook: WebhookOption | None,
) -> Job:
    ranges = plan_ranges(tenant=tenant, spec=spec, limit=limit, rows_per_chunk=chunk_rows())
    return job_submit(
        tenant=tenant,
        type=job_type,
        options=options,
        webhook=webhook,
        chunks=(
            ChunkInput(row_count=rows, payload={**payload, "first_seq": first, "last_seq": last})
            for first, last, rows in ranges
        ),
    )
