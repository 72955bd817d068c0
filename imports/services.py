"""Starting imports: a CSV stream or a JSON list becomes a job with chunks in PostgreSQL.

CSV: the upload is cut into chunks as it is read, so memory stays at one page of chunks
whatever the file size. Chunks run only once the whole upload has been read and passed
the file-level checks (encoding, size cap, quoting): a failed upload never leaves rows
behind. `strict` stages the chunks for the engine's check pass: workers check them while
the upload goes on, and the job fails, writing nothing, if any row is invalid."""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

from imports.csv_stream import Records, plain_bytes, record_batches, utf8_pieces
from imports.handlers import values_from_item, verbatim_at_upload
from imports.parsing import BulkImportOptions, BulkImportRequest, CsvImportOptions
from imports.rows import bind_mapping, header_of
from jobs.models import Job
from jobs.services import ChunkInput, job_submit
from pcf.exceptions import (
    ValidationError,
    field_detail,
    field_error,
)
from pcf.models import ApiClient
from resources.parsing import contains_nul


def too_many_chunks(chunk_size: int) -> ValidationError:
    limit = int(settings.PCF_JOB_MAX_CHUNKS)
    return ValidationError(
        f"The import needs more than {limit} chunks; nothing was written",
        details=[
            field_detail(
                "options.chunk_size",
                f"{chunk_size} rows a chunk makes more than {limit} chunks; "
                "use a larger chunk_size",
            )
        ],
    )


def _chunk(runs: list[Records], count: int) -> ChunkInput:
    return ChunkInput(row_count=count, payload_text=b"".join(r.data for r in runs).decode())


def _chunks_of(runs: Iterator[Records], size: int) -> Iterator[ChunkInput]:
    """Records regrouped into chunks of `size` (the last may be shorter). A chunk past
    PCF_JOB_MAX_CHUNKS (counted as they are produced: the file's length is unknown until
    read) is a ValidationError (the engine then fails the job, nothing written)."""
    pending: list[Records] = []
    have = 0
    room = int(settings.PCF_JOB_MAX_CHUNKS)
    for run in runs:
        while have + run.count >= size:
            if room == 0:
                raise too_many_chunks(size)
            room -= 1
            head, run = run.split(size - have)
            pending.append(head)
            yield _chunk(pending, size)
            pending, have = [], 0
        if run.count:
            pending.append(run)
            have += run.count
    if pending:
        if room == 0:
            raise too_many_chunks(size)
        yield _chunk(pending, have)


def _first_records(runs: Iterator[Records]) -> tuple[list[str], Records]:
    """The header and the first data records. Raises ValidationError for an empty or
    header-only file."""
    first = next(runs, None)
    if first is None:
        raise field_error("file", "The file is empty")
    line, rest = first.split(1)
    try:
        header = header_of(next(csv.reader([line.data.decode()])))
    except csv.Error as exc:
        raise field_error("file", f"Malformed CSV: {exc}") from None
    while not rest.count:
        following = next(runs, None)
        if following is None:
            raise field_error("file", "The file has a header but no data rows")
        rest = following
    return header, rest


def csv_import_start(
    *, tenant: ApiClient, options: CsvImportOptions, pieces: Iterable[bytes]
) -> tuple[Job, int]:
    """Read a CSV upload (byte pieces, gzip or not) into a job, chunk by chunk as it
    arrives; return the job and its row count. Raises ValidationError for an empty,
    header-only, undecodable or malformed file, or a mapped column the header lacks;
    PayloadTooLarge past the size cap. A problem found after chunks were stored fails
    the job: none of its chunks ever runs (they run only once the whole upload was read
    and the job sealed; a strict import's check pass runs meanwhile)."""
    data = utf8_pieces(plain_bytes(pieces, max_bytes=int(settings.PCF_IMPORT_MAX_BYTES)))
    runs = record_batches(data, max_record_bytes=int(settings.PCF_CSV_MAX_RECORD_BYTES))
    header, first = _first_records(runs)
    columns = bind_mapping(options.mapping, header)
    records = itertools.chain([first], runs)
    job_options = {
        **options.as_job_options(),
        "header": header,
        "columns": [[c.field, c.index, c.json] for c in columns],
    }
    chunks = verbatim_at_upload(
        job_options, _chunks_of(records, options.chunk_size), strict=options.strict
    )
    job = job_submit(
        tenant=tenant,
        type="csv_import",
        options=job_options,
        webhook=options.webhook,
        chunks=chunks,
        check=options.strict,
    )
    return job, job.total


def _check_all(items: Sequence[Any], options: BulkImportOptions) -> None:
    details: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        values, problems = values_from_item(item)
        details.extend(field_detail(p["field"], p["message"], index=index) for p in problems)
        if values is not None and options.upsert and options.upsert_key == "id" and not values.id:
            details.append(field_detail("id", "id is required to upsert by id", index=index))
    if details:
        failed = len({d["index"] for d in details})
        raise ValidationError(
            f"{failed} of {len(items)} resources are invalid; nothing was imported", details=details
        )


def _unstorable(item: Any) -> bool:
    """PostgreSQL's jsonb refuses U+0000 and an unpaired surrogate anywhere."""
    if contains_nul(item):
        return True
    try:
        json.dumps(item, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


def _refuse_nul(items: Sequence[Any]) -> None:
    """U+0000 (or an unpaired surrogate) cannot be stored at all (PostgreSQL jsonb), not
    even in a chunk's payload to be reported as that row's error later: it was a 500.
    A 400 naming the items."""
    bad = [index for index, item in enumerate(items) if _unstorable(item)]
    if bad:
        raise ValidationError(
            f"{len(bad)} resources contain the NUL character (U+0000) or an unpaired "
            "surrogate; nothing was imported",
            details=[
                field_detail(
                    "resources", "Must not contain U+0000 or an unpaired surrogate", index=i
                )
                for i in bad[:100]
            ],
        )


@transaction.atomic
def bulk_import_start(*, tenant: ApiClient, request: BulkImportRequest) -> Job:
    """Turn a JSON bulk import into a job: chunks are stored and dispatched on commit.
    With validate_before_import every item is checked first (400 listing each bad
    item's index and field, nothing stored)."""
    items, options = request.items, request.options
    _refuse_nul(items)
    if options.validate_before_import:
        _check_all(items, options)
    size = options.chunk_size
    if -(-len(items) // size) > int(settings.PCF_JOB_MAX_CHUNKS):
        raise too_many_chunks(size)
    return job_submit(
        tenant=tenant,
        type="bulk_import",
        options=options.as_job_options(),
        webhook=options.webhook,
        chunks=(
            ChunkInput(row_count=len(part), payload=part)
            for part in (list(items[start : start + size]) for start in range(0, len(items), size))
        ),
    )
