"""Applying validated import rows to resources inside a chunk's transaction.

Shared by the CSV and the JSON chunk handlers: pick the fastest correct write (COPY for
generated ids, one INSERT … ON CONFLICT for client ids, locked upserts), or, in a dry
run, only find out what would happen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jobs.handlers import ChunkOutcome, RowError
from pcf.models import ApiClient
from resources.services import (
    CREATED,
    UPDATED,
    RowValues,
    resources_copy_create,
    resources_create_rows,
    resources_ids_taken,
    resources_upsert,
)


@dataclass(frozen=True)
class Pending:
    """A valid row waiting to be written, with what to report if it fails."""

    values: RowValues
    row: int | None  # CSV: 1-based data row
    index: int | None  # JSON: 0-based item
    original: Any


def _error(item: Pending, field: str, message: str, code: str) -> RowError:
    return RowError(
        field=field,
        message=message,
        code=code,
        row=item.row,
        index=item.index,
        values=item.original,
    )


def apply_rows(
    *,
    tenant: ApiClient,
    rows: Sequence[Pending],
    errors: list[RowError],
    invalid: int,
    upsert: bool,
    upsert_key: str,
    dry_run: bool,
) -> ChunkOutcome:
    """Write `rows` (already valid) and return the chunk's outcome; `errors` / `invalid`
    carry the rows that failed validation before."""
    if upsert:
        return _upsert(tenant, rows, errors, invalid, upsert_key, dry_run)
    failed = invalid
    if any(item.values.id for item in rows):
        if dry_run:
            taken = resources_ids_taken(
                tenant=tenant, ids=[i.values.id for i in rows if i.values.id]
            )
            seen: set[str] = set()
            flags = []
            for item in rows:
                public_id = item.values.id
                flags.append(
                    public_id is None or (public_id not in taken and public_id not in seen)
                )
                if public_id:
                    seen.add(public_id)
        else:
            flags = resources_create_rows(tenant=tenant, rows=[item.values for item in rows])
        for item, ok in zip(rows, flags, strict=True):
            if not ok:
                failed += 1
                errors.append(
                    _error(
                        item,
                        "id",
                        f"A resource with id {item.values.id!r} already exists",
                        "CONFLICT",
                    )
                )
        created = len(rows) - (failed - invalid)
    else:
        created = (
            len(rows)
            if dry_run
            else resources_copy_create(tenant=tenant, rows=[item.values for item in rows])
        )
    meta = (
        {"would_create": created, "would_update": 0}
        if dry_run
        else {"created": created, "updated": 0}
    )
    return ChunkOutcome(successful=created, failed=failed, errors=errors, meta=meta)


def _upsert(
    tenant: ApiClient,
    rows: Sequence[Pending],
    errors: list[RowError],
    invalid: int,
    key: str,
    dry_run: bool,
) -> ChunkOutcome:
    failed = invalid
    keyed: list[Pending] = []
    for item in rows:
        if key == "id" and not item.values.id:
            failed += 1
            errors.append(_error(item, "id", "id is required to upsert by id", "VALIDATION_ERROR"))
        else:
            keyed.append(item)
    outcomes = resources_upsert(
        tenant=tenant, key=key, rows=[item.values for item in keyed], dry_run=dry_run
    )
    created = updated = 0
    for item, outcome in zip(keyed, outcomes, strict=True):
        if outcome == CREATED:
            created += 1
        elif outcome == UPDATED:
            updated += 1
        else:
            failed += 1
            errors.append(_error(item, key, outcome, "CONFLICT"))
    meta = (
        {"would_create": created, "would_update": updated}
        if dry_run
        else {"created": created, "updated": updated}
    )
    return ChunkOutcome(successful=created + updated, failed=failed, errors=errors, meta=meta)
