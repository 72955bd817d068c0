"""Chunk handlers for `csv_import` and `bulk_import` jobs (run by jobs' chunk task,
inside the chunk's transaction). Registered from ImportsConfig.ready()."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, transaction

from imports.apply import Pending, apply_rows
from imports.rows import BoundColumn, CellProblem, row_checker
from imports.verbatim import (
    VERBATIM_ROWS,
    VerbatimPlan,
    verbatim_candidate,
    verbatim_plan,
    verbatim_rows,
    verbatim_rows_checked,
    verbatim_text,
)
from jobs.handlers import (
    CheckOutcome,
    ChunkOutcome,
    RowError,
    register_check_handler,
    register_chunk_handler,
    register_settled_hook,
)
from jobs.models import Chunk, Job
from jobs.services import ChunkInput
from pcf.exceptions import ValidationError, field_detail
from resources.parsing import ResourceCreate, parse_create
from resources.services import (
    RowValues,
    resources_copy_verbatim,
    resources_refresh_statistics,
)


def csv_rows(text: str) -> Iterator[list[str]]:
    """The chunk's CSV text as rows of cells (quoted newlines and CRLF handled)."""
    return csv.reader(io.StringIO(text, newline=""))


def csv_columns(options: dict[str, Any]) -> tuple[list[str], list[BoundColumn]]:
    header = list(options["header"])
    return header, [BoundColumn(field=f, index=i, json=j) for f, i, j in options["columns"]]


def original_values(header: list[str], cells: list[str]) -> dict[str, str]:
    values = dict(zip(header, cells, strict=False))
    for position, extra in enumerate(cells[len(header) :], start=len(header) + 1):
        values[f"column_{position}"] = extra
    return values


# A job error keeps the row's cells, but not a megabyte of one: longer cells are cut.
MAX_REPORTED_CELL_CHARS = 1024


def _reported(cell: str) -> str:
    if len(cell) <= MAX_REPORTED_CELL_CHARS:
        return cell
    return f"{cell[:MAX_REPORTED_CELL_CHARS]}… ({len(cell)} characters)"


def csv_row_errors(
    row: int, header: list[str], cells: list[str], problems: list[CellProblem]
) -> list[RowError]:
    values = original_values(header, [_reported(cell) for cell in cells])
    return [RowError(field=p.field, message=p.message, row=row, values=values) for p in problems]


def _copy_verbatim(
    job: Job,
    text: str | bytes,
    plan: VerbatimPlan,
    rows: list[list[str]] | None,
    checked_rows: int | None,
) -> ChunkOutcome | None:
    """The whole chunk through COPY as uploaded, or None (nothing written) when it does
    not qualify or PostgreSQL refuses part of it, e.g. bad JSON. `checked_rows`: the
    check pass found the chunk qualifies, with this many rows (no need to look again);
    else `rows` are the chunk's cells, read once for this and the general path."""
    if checked_rows:
        count: int | None = checked_rows
    elif rows is not None and isinstance(text, str):
        count = verbatim_rows(plan, text, rows)
    else:
        count = None
    if not count:
        return None
    try:
        with transaction.atomic():  # a savepoint: a refused COPY leaves nothing behind
            resources_copy_verbatim(
                tenant=job.tenant, fields=plan.fields, csv_text=text, rows=count
            )
    except (DataError, IntegrityError):
        return None
    return ChunkOutcome(
        successful=count, failed=0, errors=[], meta={"created": count, "updated": 0}
    )


def _verbatim_count(plan: VerbatimPlan, chunk: Chunk, data: bytes) -> int | None:
    """The chunk's row count if it can be copied as uploaded (`data`: its text in UTF-8),
    known without parsing a row: from its memo (verbatim_at_upload, or a strict import's
    check pass), or one pass of verbatim_candidate (PostgreSQL then checks the JSON)."""
    memo = chunk.payload if isinstance(chunk.payload, dict) else {}
    if memo.get(VERBATIM_ROWS):
        return int(memo[VERBATIM_ROWS])
    if verbatim_candidate(plan, data):
        return chunk.row_count
    return None


def import_csv_chunks(job: Job, chunks: list[Chunk]) -> list[ChunkOutcome] | None:
    """A window message's chunks in one COPY when every one of them can go verbatim
    (the engine commits them together); None when one cannot (one by one, then). A
    COPY that PostgreSQL refuses raises, and the engine goes one by one."""
    header, columns = csv_columns(job.options)
    plan = verbatim_plan(job.options, header, columns)
    if plan is None:
        return None
    payloads = [(chunk.payload_text or "").encode() for chunk in chunks]
    counts = [_verbatim_count(plan, c, data) for c, data in zip(chunks, payloads, strict=True)]
    if None in counts:
        return None
    data = b"".join(d if d.endswith(b"\n") else d + b"\n" for d in payloads)
    known = [n for n in counts if n is not None]
    resources_copy_verbatim(tenant=job.tenant, fields=plan.fields, csv_text=data, rows=sum(known))
    return [ChunkOutcome(successful=n, failed=0, meta={"created": n, "updated": 0}) for n in known]


def _write_rows(
    job: Job, pending: list[Pending], errors: list[RowError], invalid: int
) -> ChunkOutcome:
    """A chunk's valid rows written in one go, as the job's options say (upsert, and
    dry_run, which only CSV imports have), with the errors of its invalid rows: the last
    step of both import handlers."""
    options = job.options
    return apply_rows(
        tenant=job.tenant,
        rows=pending,
        errors=errors,
        invalid=invalid,
        upsert=bool(options.get("upsert")),
        upsert_key=options.get("upsert_key", "name"),
        dry_run=bool(options.get("dry_run")),
    )


@register_chunk_handler("csv_import", group=import_csv_chunks)
def import_csv_chunk(job: Job, chunk: Chunk) -> ChunkOutcome:
    """Validate the chunk's rows once, then write the valid ones in one go."""
    options = job.options
    header, columns = csv_columns(options)
    text = chunk.payload_text or ""
    plan = verbatim_plan(options, header, columns)
    rows: list[list[str]] | None = None
    if plan is not None:
        data = text.encode()
        checked_rows = _verbatim_count(plan, chunk, data)
        if not checked_rows:
            rows = list(csv_rows(text))
        outcome = _copy_verbatim(job, data if checked_rows else text, plan, rows, checked_rows)
        if outcome is not None:
            return outcome
    check = row_checker(columns, len(header))
    pending: list[Pending] = []
    keep = pending.append
    errors: list[RowError] = []
    invalid = 0
    row = chunk.row_offset
    for cells in rows if rows is not None else csv_rows(text):
        if not cells:
            continue  # blank lines are not rows (the upload drops them already)
        row += 1
        values, problems = check(cells)
        if values is None:
            invalid += 1
            errors.extend(csv_row_errors(row, header, cells, problems))
        else:
            keep(Pending(values, row, None, cells))
    if errors or options.get("upsert") or any(p.values.id for p in pending):
        # Conflicts are reported with the original values; map them to columns once.
        pending = [
            Pending(p.values, p.row, None, original_values(header, p.original)) for p in pending
        ]
    return _write_rows(job, pending, errors, invalid)


def strict_verdict(invalid: int, total: int) -> str:
    """The failed job's message when the check pass found invalid rows."""
    return f"Strict validation failed: {invalid} of {total} rows are invalid; nothing was written"


def verbatim_at_upload(
    job_options: dict[str, Any], chunks: Iterable[ChunkInput], *, strict: bool
) -> Iterator[ChunkInput]:
    """A CSV import's chunks as they are read, those that can go verbatim marked with
    their row count (the memo _verbatim_count reads), so the apply pass only COPies
    them: the upload has a core to spare, the apply pass has none. Strict: proved by
    the exact expression and stored checked (the check pass has nothing left to do for
    them; the others it checks as before); lenient: by the apply pass's own test,
    verbatim_candidate (PostgreSQL still checks the JSON as it COPies)."""
    header, columns = csv_columns(job_options)
    plan = verbatim_plan(job_options, header, columns)

    def qualifies(text: str) -> bool:
        if plan is None or not text:
            return False
        return verbatim_text(plan, text) if strict else verbatim_candidate(plan, text.encode())

    for chunk in chunks:
        if qualifies(chunk.payload_text or ""):
            chunk = replace(chunk, payload={VERBATIM_ROWS: chunk.row_count}, checked=True)
        yield chunk


@register_check_handler("csv_import", verdict=strict_verdict)
def check_csv_chunk(job: Job, chunk: Chunk) -> CheckOutcome:
    """A strict import's check: every row of the chunk against the import rules, with
    the messages the apply pass would give (nothing is written). A chunk that can go
    verbatim is remembered as such (memo), so its apply pass only COPies it."""
    options = job.options
    header, columns = csv_columns(options)
    plan = verbatim_plan(options, header, columns)
    text = chunk.payload_text or ""
    if plan is not None and verbatim_text(plan, text):
        # Every row passes (the whole-chunk expression proves it): nothing to parse.
        return CheckOutcome(invalid=0, errors=[], memo={VERBATIM_ROWS: chunk.row_count})
    check = row_checker(columns, len(header))
    valid: list[tuple[list[str], RowValues]] = []
    errors: list[RowError] = []
    invalid = 0
    row = chunk.row_offset
    for cells in csv_rows(text):
        if not cells:
            continue
        row += 1
        values, problems = check(cells)
        if values is None:
            invalid += 1
            errors.extend(csv_row_errors(row, header, cells, problems))
        elif plan is not None:
            valid.append((cells, values))
    memo = None
    if not invalid and plan is not None:
        count = verbatim_rows_checked(plan, text, valid)
        if count:
            memo = {VERBATIM_ROWS: count}
    return CheckOutcome(invalid=invalid, errors=errors, memo=memo)


def values_from_item(item: Any) -> tuple[RowValues | None, list[dict[str, Any]]]:
    """Validate one JSON item with the shared schema; return its row values or problems."""
    try:
        spec = parse_create(item)
    except ValidationError as exc:
        if not isinstance(item, dict):
            return None, [field_detail("", "Each resource must be a JSON object")]
        return None, exc.details or [field_detail("", exc.message)]
    return row_values(spec)


def row_values(spec: ResourceCreate) -> tuple[RowValues | None, list[dict[str, Any]]]:
    given = spec.model_fields_set
    metadata = None
    if "metadata" in given:
        metadata = json.dumps(spec.metadata, separators=(",", ":"), ensure_ascii=False)
        # PostgreSQL refuses NUL in jsonb and lone surrogates anywhere.
        if "\\u0000" in metadata:
            return None, [field_detail("metadata", "Metadata must not contain NUL characters")]
        try:
            metadata.encode()
        except UnicodeEncodeError:
            return None, [field_detail("metadata", "Metadata contains an invalid Unicode escape")]
    if "\x00" in spec.name:
        return None, [field_detail("name", "Name must not contain NUL characters")]
    status = spec.status.value if "status" in given else None
    return RowValues(spec.id, spec.name, spec.type.value, status, metadata), []


@register_chunk_handler("bulk_import")
def import_bulk_chunk(job: Job, chunk: Chunk) -> ChunkOutcome:
    """The JSON twin of import_csv_chunk: items are validated by resources.parsing."""
    pending: list[Pending] = []
    errors: list[RowError] = []
    invalid = 0
    for offset, item in enumerate(chunk.payload or []):
        index = chunk.row_offset + offset
        values, problems = values_from_item(item)
        if values is None:
            invalid += 1
            errors.extend(
                RowError(field=p["field"], message=p["message"], index=index, values=item)
                for p in problems
            )
        else:
            pending.append(Pending(values=values, row=None, index=index, original=item))
    return _write_rows(job, pending, errors, invalid)


@register_settled_hook("csv_import")
@register_settled_hook("bulk_import")
def refresh_statistics(job: Job) -> None:
    """A large import refreshes the planner's statistics at once: a tenant's list pages
    are planned for its new size, not the one autovacuum last saw."""
    if job.successful >= int(settings.PCF_ANALYZE_AFTER_ROWS) and not job.options.get("dry_run"):
        resources_refresh_statistics()
