"""Writes to the rows a filter matches: update-by-query and delete-by-filter, in the
caller's transaction (a request's, or a job chunk's within its seq range).

Rows are locked in seq order first, so two bulk writes never deadlock; each matched
set is written in one statement (plus one for rows near the metadata size cap)."""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from pcf.models import ApiClient
from resources.filters import ResourceFilter, apply_filter
from resources.merge import merge_patch
from resources.models import Resource
from resources.parsing import ResourcePatch, check_metadata
from resources.selectors import live_resources
from resources.services.matched_sql import delete_by_seq, update_by_seq, update_metadata_values


@dataclass
class RowFailure:
    id: str
    message: str


@dataclass
class UpdateOutcome:
    successful: int = 0
    failures: list[RowFailure] = field(default_factory=list)


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
        return UpdateOutcome(update_by_seq(seqs, fields=fields, metadata_patch=None, now=now))
    # jsonb's text form is never shorter than compact JSON, so this errs on the safe side.
    room = settings.PCF_METADATA_MAX_BYTES - _patch_size(patch.metadata)
    marked = queryset.annotate(heavy=RawSQL("octet_length(metadata::text) > %s", (room,)))
    rows = list(marked.values_list("seq", "heavy")[:limit])
    light = [seq for seq, heavy in rows if not heavy]
    heavy = [seq for seq, is_heavy in rows if is_heavy]
    outcome = UpdateOutcome(
        update_by_seq(light, fields=fields, metadata_patch=patch.metadata, now=now)
    )
    if heavy:
        merged, failures = merge_in_python(heavy, patch.metadata)
        outcome.successful += update_metadata_values(merged, fields=fields, now=now)
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
    return [public_id for _, public_id in delete_by_seq(seqs, soft=soft, now=timezone.now())]


def delete_rows_in_ranges(
    *, tenant: ApiClient, spec: ResourceFilter, soft: bool, ranges: Sequence[tuple[int, int]]
) -> list[int]:
    """Delete (or soft-delete) the matching rows of several disjoint seq ranges (a job
    message's chunks) in two statements; return how many rows each range lost, in the
    order given. Call in a transaction. Rows are locked in seq order, as delete_rows."""
    if not ranges:
        return []
    within = Q()
    for first, last in ranges:
        within |= Q(seq__gte=first, seq__lte=last)
    span = (min(first for first, _ in ranges), max(last for _, last in ranges))
    queryset = matching(tenant=tenant, spec=spec, seq_range=span).filter(within)
    seqs = list(queryset.select_for_update().values_list("seq", flat=True))
    deleted = [seq for seq, _ in delete_by_seq(seqs, soft=soft, now=timezone.now())]
    return [
        bisect.bisect_right(deleted, last) - bisect.bisect_left(deleted, first)
        for first, last in ranges
    ]
