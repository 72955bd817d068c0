"""SQL pieces for update-by-query and delete-by-filter: RFC 7396 merge as a jsonb
expression, and the statements that write one matched set. All values are bound
parameters."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from resources.models import Resource

TABLE = Resource._meta.db_table
# jsonb_build_object takes at most 100 arguments: 50 key/value pairs a call.
_PAIRS_PER_CALL = 50


def merge_patch_sql(patch: dict[str, Any], path: tuple[str, ...] = ()) -> tuple[str, list[Any]]:
    """A jsonb expression equal to merge_patch(metadata #> path, patch) (RFC 7396).

    Removed keys go with `-`, the rest are set with `||`; a nested object merges into
    the target's value at that path when it is an object, else into {} (which also drops
    nested nulls). Paths are parameters, so the SQL grows linearly with the patch."""
    if path:
        target = (
            "(CASE WHEN jsonb_typeof(metadata #> %s::text[]) = 'object' "
            "THEN metadata #> %s::text[] ELSE '{}'::jsonb END)"
        )
        params: list[Any] = [list(path), list(path)]
    else:
        target, params = "metadata", []
    expr = target
    removed = [key for key, value in patch.items() if value is None]
    if removed:
        expr = f"({expr} - %s::text[])"
        params.append(removed)
    pairs: list[tuple[str, list[Any]]] = []
    for key, value in patch.items():
        if value is None:
            continue
        if isinstance(value, dict):
            inner_sql, inner_params = merge_patch_sql(value, (*path, key))
            pairs.append((f"%s::text, {inner_sql}", [key, *inner_params]))
        else:
            pairs.append(("%s::text, %s::jsonb", [key, json.dumps(value)]))
    for start in range(0, len(pairs), _PAIRS_PER_CALL):
        group = pairs[start : start + _PAIRS_PER_CALL]
        expr = f"({expr} || jsonb_build_object({', '.join(sql for sql, _ in group)}))"
        for _, group_params in group:
            params.extend(group_params)
    return expr, params


def update_by_seq(
    seqs: Sequence[int],
    *,
    fields: dict[str, str],
    metadata_patch: dict[str, Any] | None,
    now: datetime,
) -> int:
    """One UPDATE of the given rows: plain fields set, metadata merged in SQL."""
    if not seqs:
        return 0
    assignments = ["updated_at = %s"]
    params: list[Any] = [now]
    for column, value in fields.items():
        assignments.append(f"{column} = %s")
        params.append(value)
    if metadata_patch is not None:
        merge_sql, merge_params = merge_patch_sql(metadata_patch)
        assignments.append(f"metadata = {merge_sql}")
        params.extend(merge_params)
    sql = f"UPDATE {TABLE} SET {', '.join(assignments)} WHERE seq = ANY(%s)"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, list(seqs)])
        updated: int = cursor.rowcount
    return updated


def update_metadata_values(
    rows: Sequence[tuple[int, dict[str, Any]]], *, fields: dict[str, str], now: datetime
) -> int:
    """One UPDATE writing per-row metadata computed in Python (rows near the size cap)."""
    if not rows:
        return 0
    assignments = ["updated_at = %s", "metadata = v.metadata"]
    params: list[Any] = [now]
    for column, value in fields.items():
        assignments.append(f"{column} = %s")
        params.append(value)
    sql = (
        f"UPDATE {TABLE} AS r SET {', '.join(assignments)} "  # noqa: S608
        "FROM unnest(%s::bigint[], %s::jsonb[]) AS v(seq, metadata) WHERE r.seq = v.seq"
    )
    seqs = [seq for seq, _ in rows]
    values = [json.dumps(metadata) for _, metadata in rows]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, seqs, values])
        updated: int = cursor.rowcount
    return updated


def delete_by_seq(seqs: Sequence[int], *, soft: bool, now: datetime) -> list[tuple[int, str]]:
    """Delete (or mark deleted) the given rows; return (seq, public id) of each row it
    deleted, in seq order."""
    if not seqs:
        return []
    if soft:
        sql = (
            f"UPDATE {TABLE} SET deleted_at = %s, updated_at = %s "  # noqa: S608
            "WHERE seq = ANY(%s) AND deleted_at IS NULL RETURNING seq, public_id"
        )
        params: list[Any] = [now, now, list(seqs)]
    else:
        sql = f"DELETE FROM {TABLE} WHERE seq = ANY(%s) RETURNING seq, public_id"  # noqa: S608
        params = [list(seqs)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(cursor.fetchall())
