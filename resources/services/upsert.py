"""Upserts by a natural key ("name" or "id") for imports: a pure plan that decides,
per row, create, update or conflict from what the tenant holds, and its application
under advisory locks in the caller's transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from pcf.models import ApiClient
from resources.models import Resource
from resources.services.many import RowValues, resources_copy_create, resources_create_rows

# Outcome of one upsert row: "created", "updated", or the CONFLICT message.
CREATED = "created"
UPDATED = "updated"

UPSERT_KEYS = ("name", "id")


@dataclass(frozen=True)
class UpsertPlan:
    """What an upsert writes. `outcomes` is per input row; `creates` and `updates`
    hold one row per key value, later rows of the same value folded in."""

    keys: tuple[str, ...]
    outcomes: tuple[str, ...]
    creates: tuple[RowValues, ...]
    updates: tuple[tuple[int, RowValues], ...]  # (seq of the live resource, its new values)


def upsert_keys(*, key: str, rows: Sequence[RowValues]) -> list[str]:
    """Each row's value of the upsert key."""
    return [row.name if key == "name" else (row.id or "") for row in rows]


def _fold(current: RowValues, row: RowValues) -> RowValues:
    """A later row of the same key, applied over an earlier one (given fields win)."""
    return RowValues(
        current.id,
        row.name,
        row.type,
        row.status if row.status is not None else current.status,
        row.metadata if row.metadata is not None else current.metadata,
    )


def upsert_plan(
    *,
    key: str,
    rows: Sequence[RowValues],
    live: Mapping[str, Sequence[int]],
    deleted: AbstractSet[str],
) -> UpsertPlan:
    """Decide each row from the tenant's resources with its key value, no I/O: `live`
    maps a value to the seqs of the live resources that have it, `deleted` holds the
    ids kept by soft-deleted resources.

    By name: no live resource of that name creates one, exactly one is updated, several
    make the row a conflict. By id: a live resource is updated, an unused id is created
    with that id, an id kept by a soft-deleted resource is a conflict. A later row of a
    value already planned folds into it (and reports UPDATED)."""
    keys = upsert_keys(key=key, rows=rows)
    outcomes: list[str] = []
    creates: dict[str, RowValues] = {}
    updates: dict[str, tuple[int, RowValues]] = {}
    for value, row in zip(keys, rows, strict=True):
        seqs = live.get(value, [])
        if len(seqs) > 1:
            outcomes.append(f"{len(seqs)} resources are named {value!r}; upsert needs one")
        elif value in deleted:
            outcomes.append(f"Resource id {value!r} belongs to a deleted resource")
        elif seqs:
            earlier = updates.get(value)
            updates[value] = (seqs[0], _fold(earlier[1], row) if earlier else row)
            outcomes.append(UPDATED)
        elif value in creates:
            creates[value] = _fold(creates[value], row)
            outcomes.append(UPDATED)
        else:
            creates[value] = row._replace(id=value) if key == "id" else row._replace(id=None)
            outcomes.append(CREATED)
    return UpsertPlan(
        keys=tuple(keys),
        outcomes=tuple(outcomes),
        creates=tuple(creates.values()),
        updates=tuple(updates.values()),
    )


def _lock_keys(*, tenant: ApiClient, key: str, values: Iterable[str]) -> None:
    """Serialise upserts of the same (tenant, key value) across transactions.

    Names are not unique, so no constraint can arbitrate two concurrent creates of one
    name: a transaction-scoped advisory lock per value does. Taken in sorted order, so two
    imports sharing names never deadlock; released at commit."""
    hashed = sorted(
        {
            int.from_bytes(
                hashlib.blake2b(f"{tenant.pk}\x1f{key}\x1f{v}".encode(), digest_size=8).digest(),
                "big",
                signed=True,
            )
            for v in values
        }
    )
    if hashed:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k", [hashed]
            )


def _existing(
    *, tenant: ApiClient, key: str, values: Sequence[str]
) -> tuple[dict[str, list[int]], set[str]]:
    """The tenant's resources with these key values: live seqs by value, and the values
    kept by soft-deleted resources (by id only: a deleted name frees the name)."""
    live: dict[str, list[int]] = {}
    deleted: set[str] = set()
    queryset = Resource.objects.filter(tenant=tenant)
    if key == "name":
        found = queryset.filter(name__in=values, deleted_at__isnull=True).values_list(
            "name", "seq", "deleted_at"
        )
    else:
        found = queryset.filter(public_id__in=values).values_list("public_id", "seq", "deleted_at")
    for value, seq, deleted_at in found:
        if deleted_at is not None:
            deleted.add(value)
        else:
            live.setdefault(value, []).append(seq)
    return live, deleted


_UPDATE_SQL = """
UPDATE resources_resource AS r SET
    name = COALESCE(u.name, r.name),
    type = COALESCE(u.type, r.type),
    status = COALESCE(u.status, r.status),
    metadata = COALESCE(u.metadata::jsonb, r.metadata),
    updated_at = %s
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[])
    AS u(seq, name, type, status, metadata)
WHERE r.seq = u.seq
"""


def _update_by_seq(entries: Sequence[tuple[int, RowValues]]) -> None:
    """One UPDATE of the planned rows; a value left None keeps the stored one."""
    with connection.cursor() as cursor:
        cursor.execute(
            _UPDATE_SQL,
            [
                timezone.now(),
                [seq for seq, _ in entries],
                [r.name for _, r in entries],
                [r.type for _, r in entries],
                [r.status for _, r in entries],
                [r.metadata for _, r in entries],
            ],
        )


def resources_upsert(
    *, tenant: ApiClient, key: str, rows: Sequence[RowValues], dry_run: bool = False
) -> list[str]:
    """Create or update each row by `key` ("name" or "id"), in input order, inside the
    caller's transaction. Per row: CREATED, UPDATED, or a CONFLICT message (see
    upsert_plan). Advisory locks on the keys make concurrent upserts of the same keys
    apply one after the other."""
    if not rows:
        return []
    if key not in UPSERT_KEYS:
        raise ValueError(f"unknown upsert key {key!r}")
    distinct = sorted(set(upsert_keys(key=key, rows=rows)))
    if not dry_run:
        _lock_keys(tenant=tenant, key=key, values=distinct)
    live, deleted = _existing(tenant=tenant, key=key, values=distinct)
    plan = upsert_plan(key=key, rows=rows, live=live, deleted=deleted)
    outcomes = list(plan.outcomes)
    if dry_run:
        return outcomes

    if plan.creates:
        created_rows = list(plan.creates)
        if key == "name":
            resources_copy_create(tenant=tenant, rows=created_rows)
        else:
            # The lock keeps other upserts out; a plain create of the same id racing in
            # is reported as that row's conflict instead of failing the whole chunk.
            flags = resources_create_rows(tenant=tenant, rows=created_rows)
            lost = {row.id for row, ok in zip(created_rows, flags, strict=True) if not ok}
            if lost:
                outcomes = [
                    f"A resource with id {value!r} already exists" if value in lost else outcome
                    for value, outcome in zip(plan.keys, outcomes, strict=True)
                ]
    if plan.updates:
        _update_by_seq(plan.updates)
    return outcomes
