"""Update-by-query and delete-by-filter.

A matched set of at most PCF_BULK_SYNC_LIMIT rows is written in the request, in one
transaction and one statement (plus one for rows near the metadata size cap). A larger
set becomes a bulk_update / bulk_delete job: the rows are cut into primary-key (seq)
ranges of PCF_BULK_CHUNK_ROWS, each range its own chunk transaction, so no statement holds
many row locks for long. `update_rows` / `delete_rows` are the one writer for both."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from jobs.models import Job
from jobs.services import ChunkInput, job_submit
from pcf.models import ApiClient
from resources.bulk import sql
from resources.bulk.requests import BulkDeleteRequest, BulkUpdateRequest
from resources.filters import ResourceFilter, apply_filter
from resources.merge import merge_patch
from resources.models import Resource
from resources.schemas import ResourcePatch, check_metadata
from resources.selectors import live_resources


def chunk_rows() -> int:
    """Rows per job chunk (settings.PCF_BULK_CHUNK_ROWS, default 1,000): one chunk is one
    transaction holding this many row locks. A 1,000-row merge UPDATE takes tens of
    milliseconds here (docs/graphql.md, "Measured")."""
    return int(settings.PCF_BULK_CHUNK_ROWS)


@dataclass
class RowFailure:
    id: str
    message: str


@dataclass
class UpdateOutcome:
    successful: int = 0
    failures: list[RowFailure] = field(default_factory=list)


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


def matching(
    *, tenant: ApiClient, spec: ResourceFilter, seq_range: tuple[int, int] | None = None
) -> QuerySet[Resource]:
    """Live rows of the tenant that match, optionally within a seq range (a job chunk)."""
    queryset = apply_filter(live_resources(tenant=tenant), spec)
    if seq_range is not None:
        queryset = queryset.filter(seq__gte=seq_range[0], seq__lte=seq_range[1])
    return queryset.order_by("seq")


def count_matching(*, tenant: ApiClient, spec: ResourceFilter, limit: int | None) -> int:
    queryset = matching(tenant=tenant, spec=spec)
    return queryset[:limit].count() if limit is not None else queryset.count()


def _plain_fields(patch: ResourcePatch) -> dict[str, str]:
    fields: dict[str, str] = {}
    if patch.name is not None:
        fields["name"] = patch.name
    if patch.type is not None:
        fields["type"] = patch.type.value
    if patch.status is not None:
        fields["status"] = patch.status.value
    return fields


def _patch_size(metadata: dict[str, Any]) -> int:
    return len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())


def update_rows(
    *,
    tenant: ApiClient,
    spec: ResourceFilter,
    patch: ResourcePatch,
    limit: int | None = None,
    seq_range: tuple[int, int] | None = None,
) -> UpdateOutcome:
    """Apply `patch` to the matching rows (first `limit` by seq). Call inside a transaction.

    Rows are locked in seq order first (no deadlock between two bulk updates). The merge
    runs in SQL, except for rows whose stored metadata plus the patch might pass the
    64 KiB cap: those are merged and checked in Python, and fail one by one if too big.
    (A merge never nests deeper than target or patch, both already within the limit.)"""
    now = timezone.now()
    fields = _plain_fields(patch)
    queryset = matching(tenant=tenant, spec=spec, seq_range=seq_range).select_for_update()
    if patch.metadata is None:
        seqs = list(queryset.values_list("seq", flat=True)[:limit])
        return UpdateOutcome(sql.update_by_seq(seqs, fields=fields, metadata_patch=None, now=now))
    # jsonb's text form is never shorter than compact JSON, so this errs on the safe side.
    room = settings.PCF_METADATA_MAX_BYTES - _patch_size(patch.metadata)
    marked = queryset.annotate(heavy=RawSQL("octet_length(metadata::text) > %s", (room,)))
    rows = list(marked.values_list("seq", "heavy")[:limit])
    light = [seq for seq, heavy in rows if not heavy]
    heavy = [seq for seq, is_heavy in rows if is_heavy]
    outcome = UpdateOutcome(
        sql.update_by_seq(light, fields=fields, metadata_patch=patch.metadata, now=now)
    )
    if heavy:
        merged, failures = merge_in_python(heavy, patch.metadata)
        outcome.successful += sql.update_metadata_values(merged, fields=fields, now=now)
        outcome.failures.extend(failures)
    return outcome


def merge_in_python(
    seqs: list[int], metadata_patch: dict[str, Any]
) -> tuple[list[tuple[int, dict[str, Any]]], list[RowFailure]]:
    """Merge per row in Python with the exact metadata limits; over-limit rows fail."""
    merged: list[tuple[int, dict[str, Any]]] = []
    failures: list[RowFailure] = []
    for seq, public_id, metadata in Resource.objects.filter(seq__in=seqs).values_list(
        "seq", "public_id", "metadata"
    ):
        result = merge_patch(metadata, metadata_patch)
        try:
            check_metadata(result)
        except ValueError as exc:
            failures.append(RowFailure(public_id, str(exc)))
            continue
        merged.append((seq, result))
    return merged, failures


def delete_rows(
    *,
    tenant: ApiClient,
    spec: ResourceFilter,
    soft: bool,
    limit: int | None = None,
    seq_range: tuple[int, int] | None = None,
) -> list[str]:
    """Delete (or soft-delete) the matching rows; return their ids. Call in a transaction."""
    queryset = matching(tenant=tenant, spec=spec, seq_range=seq_range).select_for_update()
    seqs = list(queryset.values_list("seq", flat=True)[:limit])
    return sql.delete_by_seq(seqs, soft=soft, now=timezone.now())


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
    webhook: dict[str, Any] | None,
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
