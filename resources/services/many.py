"""Many-row writes: many resources in one statement, never one query per row.

Used by batch (consecutive creates), bulk JSON and import chunks. Callers validate
first (resources.parsing); these functions only write."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, repeat
from typing import Any, NamedTuple

from django.db import DataError, connection
from django.utils import timezone

from pcf.models import ApiClient
from resources.ids import new_resource_id, new_resource_id_batches, new_resource_ids
from resources.models import Resource
from resources.parsing import ResourceCreate
from resources.services.build import resource_build


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
            resource_build(
                tenant=tenant, spec=spec, public_id=public_id, now=now, seq=inserted[public_id]
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


def resources_copy_verbatim(
    *, tenant: ApiClient, fields: Sequence[str], csv_text: str | bytes, rows: int
) -> None:
    """COPY `rows` CSV records (RFC 4180, each ending in a line end; text or its UTF-8
    bytes) whose cells are `fields` in order, into the tenant, byte for byte: no
    re-serialising in Python, and the metadata JSON is parsed once, by PostgreSQL. The
    caller has validated every row except the JSON syntax; PostgreSQL refuses bad JSON
    (DataError), so run this in a savepoint.

    When every record is one line, each gets its id here (records_with_new_ids): the table's
    default for it is volatile (random()), which makes PostgreSQL insert row by row;
    without it, COPY inserts in batches, and the work moves to the workers, which scale
    out, from PostgreSQL, which does not (1M rows: PostgreSQL CPU -25%)."""
    unknown = set(fields) - VERBATIM_FIELDS
    if unknown or len(set(fields)) != len(fields):
        raise ValueError(f"cannot COPY these fields verbatim: {fields}")
    data = csv_text.encode() if isinstance(csv_text, str) else csv_text
    with_ids = records_with_new_ids(data, rows)
    if with_ids is not None:
        data, fields = with_ids, ("public_id", *fields)
    sql = f"COPY resources_resource ({', '.join(fields)}) FROM STDIN (FORMAT csv)"
    with connection.cursor() as wrapper:
        wrapper.execute("SELECT set_config('pcf.copy_tenant_id', %s, true)", [str(tenant.pk)])
        cursor = _psycopg_cursor(wrapper)
        with connection.wrap_database_errors, cursor.copy(sql) as copy:
            copy.write(data)
        if cursor.rowcount != rows:
            # The caller's count was wrong: refuse rather than write records cut apart.
            raise DataError(f"COPY wrote {cursor.rowcount} records, not {rows}")


def records_with_new_ids(records: bytes, count: int) -> bytes | None:
    """`records` with a new id as a first cell of each, in C (splits and joins, no
    Python per row); None when they are not `count` lines, i.e. a quoted cell holds a
    line end (a blank line too: the caller's records have none), so a line is not
    always a record."""
    lines = records.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    if len(lines) != count:
        return None
    parts, start = [], 0
    for prefix, tails in new_resource_id_batches(count):
        batch, start = lines[start : start + len(tails)], start + len(tails)
        cells = zip(repeat(prefix), tails, repeat(b","), batch, repeat(b"\n"))
        parts.append(b"".join(chain.from_iterable(cells)))
    return b"".join(parts)


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


def resources_refresh_statistics() -> None:
    """ANALYZE the resources table: after a bulk load, the planner's estimates (e.g. 6
    rows for a tenant that just got a million) pick slow plans until autovacuum gets
    to it. Reads a fixed sample (300 x default_statistics_target rows), so it takes
    about the same time on any table size."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Resource._meta.db_table}")
