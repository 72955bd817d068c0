"""Bulk write services: many resources in one statement, never one query per row.

Used by batch (consecutive creates), bulk JSON and import chunks. Callers validate
first (resources.schemas); these functions only write."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection
from django.utils import timezone

from pcf.models import ApiClient
from resources.ids import new_resource_id, new_resource_ids
from resources.models import Resource
from resources.schemas import ResourceCreate


@dataclass(frozen=True)
class InsertOutcome:
    """Per input position: the created resource, or None when its id was already taken."""

    created: list[Resource | None]


_INSERT_SQL = """
INSERT INTO resources_resource
    (tenant_id, public_id, name, type, status, metadata, created_at, updated_at)
SELECT %s, r.public_id, r.name, r.type, r.status, r.metadata::jsonb, %s, %s
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
    AS r(public_id, name, type, status, metadata)
ON CONFLICT (tenant_id, public_id) DO NOTHING
RETURNING seq, public_id
"""


def _insert_columns(
    *,
    tenant: ApiClient,
    now: datetime,
    ids: list[str],
    names: list[str],
    types: list[str],
    statuses: list[str],
    metadata_json: list[str],
) -> dict[str, int]:
    """One INSERT .. ON CONFLICT DO NOTHING of column arrays; the seq of each id written
    (an id already taken in the tenant, or repeated in `ids`, is written once or not)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_SQL, [tenant.pk, now, now, ids, names, types, statuses, metadata_json]
        )
        return {public_id: seq for seq, public_id in cursor.fetchall()}


def resources_insert_many(*, tenant: ApiClient, specs: Sequence[ResourceCreate]) -> InsertOutcome:
    """Insert validated resources in one statement; an id already used in the tenant
    (or twice in `specs`) leaves that position None instead of failing the rest."""
    if not specs:
        return InsertOutcome(created=[])
    now = timezone.now()
    ids = [spec.id or new_resource_id() for spec in specs]
    inserted = _insert_columns(
        tenant=tenant,
        now=now,
        ids=ids,
        names=[s.name for s in specs],
        types=[s.type.value for s in specs],
        statuses=[s.status.value for s in specs],
        metadata_json=[json.dumps(s.metadata, separators=(",", ":")) for s in specs],
    )
    created: list[Resource | None] = []
    claimed: set[str] = set()
    for public_id, spec in zip(ids, specs, strict=True):
        if public_id not in inserted or public_id in claimed:
            created.append(None)
            continue
        claimed.add(public_id)
        created.append(
            Resource(
                seq=inserted[public_id],
                tenant=tenant,
                public_id=public_id,
                name=spec.name,
                type=spec.type.value,
                status=spec.status.value,
                metadata=spec.metadata,
                created_at=now,
                updated_at=now,
            )
        )
    return InsertOutcome(created=created)


# --- Imports: COPY for generated ids, locked upserts ------------------------------------


class RowValues(NamedTuple):
    """One validated row for the import paths. `status` / `metadata` None: not given
    (a create uses the default, an update keeps the stored value). `metadata` is the
    JSON text of an object, already checked by the caller."""

    id: str | None
    name: str
    type: str
    status: str | None
    metadata: str | None


# Outcome of one upsert row: "created", "updated", or the CONFLICT message.
CREATED = "created"
UPDATED = "updated"

# CSV format: the whole chunk is built by the csv module (C) and sent in one write.
_COPY_SQL = (
    "COPY resources_resource "
    "(tenant_id, public_id, name, type, status, metadata, created_at, updated_at) "
    "FROM STDIN (FORMAT csv)"
)


def _psycopg_cursor(cursor: Any) -> Any:
    # Django's CursorWrapper keeps the driver's cursor (psycopg 3) in `.cursor`. Use it
    # under connection.wrap_database_errors: its errors are psycopg's own classes, which
    # callers (savepoint fallbacks, the chunk task's retry of OperationalError) would
    # not recognise.
    return cursor.cursor


def resources_copy_create(*, tenant: ApiClient, rows: Sequence[RowValues]) -> int:
    """Insert rows with generated ids through COPY (the fastest path PostgreSQL has);
    generated ids cannot collide, so nothing can conflict. Returns the row count."""
    if not rows:
        return 0
    now = timezone.now().isoformat()
    tenant_id = tenant.pk
    records = [
        (tenant_id, public_id, r.name, r.type, r.status or "active", r.metadata or "{}", now, now)
        for public_id, r in zip(new_resource_ids(len(rows)), rows, strict=True)
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(records)
    # Every value is non-empty, so nothing reads as CSV NULL; a quoted value may hold
    # anything, even a line with only `\.` (tests/imports: ..._copy_end_marker_line...).
    with (
        connection.cursor() as wrapper,
        connection.wrap_database_errors,
        _psycopg_cursor(wrapper).copy(_COPY_SQL) as copy,
    ):
        copy.write(buffer.getvalue())
    return len(records)


# Fields an import can COPY verbatim; PostgreSQL fills in every other column from the
# table's defaults (resources/migrations/0003_copy_defaults.py).
VERBATIM_FIELDS = frozenset({"name", "type", "status", "metadata"})


def resources_copy_verbatim(*, tenant: ApiClient, fields: Sequence[str], csv_text: str) -> None:
    """COPY CSV records (RFC 4180, one per line end) whose cells are `fields` in order,
    into the tenant, byte for byte: no re-serialising in Python, and the metadata JSON is
    parsed once, by PostgreSQL. The caller has validated every row except the JSON
    syntax; PostgreSQL refuses bad JSON (DataError), so run this in a savepoint."""
    unknown = set(fields) - VERBATIM_FIELDS
    if unknown or len(set(fields)) != len(fields):
        raise ValueError(f"cannot COPY these fields verbatim: {fields}")
    sql = f"COPY resources_resource ({', '.join(fields)}) FROM STDIN (FORMAT csv)"
    with connection.cursor() as wrapper:
        wrapper.execute("SELECT set_config('pcf.copy_tenant_id', %s, true)", [str(tenant.pk)])
        with connection.wrap_database_errors, _psycopg_cursor(wrapper).copy(sql) as copy:
            copy.write(csv_text)


def resources_create_rows(*, tenant: ApiClient, rows: Sequence[RowValues]) -> list[bool]:
    """Insert rows (client ids kept, missing ones generated) in one statement; per
    position, False when the id was already used in the tenant (or earlier in `rows`)."""
    if not rows:
        return []
    now = timezone.now()
    ids = [row.id or new_resource_id() for row in rows]
    inserted = set(
        _insert_columns(
            tenant=tenant,
            now=now,
            ids=ids,
            names=[r.name for r in rows],
            types=[r.type for r in rows],
            statuses=[r.status or "active" for r in rows],
            metadata_json=[r.metadata or "{}" for r in rows],
        )
    )
    created: list[bool] = []
    for public_id in ids:
        created.append(public_id in inserted)
        inserted.discard(public_id)  # a repeated id in `rows`: only its first row wins
    return created


def resources_ids_taken(*, tenant: ApiClient, ids: Sequence[str]) -> set[str]:
    """Which of `ids` are used in the tenant, soft-deleted resources included."""
    return set(
        Resource.objects.filter(tenant=tenant, public_id__in=list(set(ids))).values_list(
            "public_id", flat=True
        )
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


def _fold(current: RowValues, row: RowValues) -> RowValues:
    """A later row of the same key, applied over an earlier one (given fields win)."""
    return RowValues(
        current.id,
        row.name,
        row.type,
        row.status if row.status is not None else current.status,
        row.metadata if row.metadata is not None else current.metadata,
    )


def resources_upsert(
    *, tenant: ApiClient, key: str, rows: Sequence[RowValues], dry_run: bool = False
) -> list[str]:
    """Create or update each row by `key` ("name" or "id"), in input order, inside the
    caller's transaction. Per row: CREATED, UPDATED, or a CONFLICT message.

    By name: no live resource of that name creates one, exactly one is updated, several
    make the row a conflict. By id: a live resource is updated, an unused id is created
    with that id, an id kept by a soft-deleted resource is a conflict. Advisory locks on
    the keys make concurrent upserts of the same keys apply one after the other."""
    if not rows:
        return []
    if key not in ("name", "id"):
        raise ValueError(f"unknown upsert key {key!r}")
    keys = [row.name if key == "name" else (row.id or "") for row in rows]
    distinct = sorted(set(keys))
    if not dry_run:
        _lock_keys(tenant=tenant, key=key, values=distinct)
    existing: dict[str, list[int]] = {}
    deleted: set[str] = set()
    queryset = Resource.objects.filter(tenant=tenant)
    if key == "name":
        found = queryset.filter(name__in=distinct, deleted_at__isnull=True).values_list(
            "name", "seq", "deleted_at"
        )
    else:
        found = queryset.filter(public_id__in=distinct).values_list(
            "public_id", "seq", "deleted_at"
        )
    for value, seq, deleted_at in found:
        if deleted_at is not None:
            deleted.add(value)
        else:
            existing.setdefault(value, []).append(seq)

    outcomes: list[str] = []
    creates: dict[str, RowValues] = {}
    updates: dict[str, tuple[int, RowValues]] = {}
    for value, row in zip(keys, rows, strict=True):
        seqs = existing.get(value, [])
        if len(seqs) > 1:
            outcomes.append(f"{len(seqs)} resources are named {value!r}; upsert needs one")
        elif value in deleted:
            outcomes.append(f"Resource id {value!r} belongs to a deleted resource")
        elif seqs:
            seq = seqs[0]
            earlier = updates.get(value)
            updates[value] = (seq, _fold(earlier[1], row) if earlier else row)
            outcomes.append(UPDATED)
        elif value in creates:
            creates[value] = _fold(creates[value], row)
            outcomes.append(UPDATED)
        else:
            creates[value] = row._replace(id=value) if key == "id" else row._replace(id=None)
            outcomes.append(CREATED)
    if dry_run:
        return outcomes

    if creates:
        created_rows = list(creates.values())
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
                    for value, outcome in zip(keys, outcomes, strict=True)
                ]
    if updates:
        entries = list(updates.values())
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
    return outcomes


def resources_refresh_statistics() -> None:
    """ANALYZE the resources table: after a bulk load, the planner's estimates (e.g. 6
    rows for a tenant that just got a million) pick slow plans until autovacuum gets
    to it. Reads a fixed sample (300 x default_statistics_target rows), so it takes
    about the same time on any table size."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Resource._meta.db_table}")
