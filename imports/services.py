"""Starting imports: a CSV stream or a JSON list becomes a job with chunks in PostgreSQL.

CSV: the upload is cut into chunks as it is read, so memory stays at one chunk whatever
the file size. Chunks are dispatched only once the whole upload has been read and passed
the file-level checks (encoding, size cap, quoting): a failed upload never leaves rows
behind. `strict` stages the chunks for the engine's check pass: workers check them while
the upload goes on, and the job fails, writing nothing, if any row is invalid."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from imports.csv_stream import decoded_text, plain_bytes, record_batches
from imports.handlers import values_from_item
from imports.options import BulkImportOptions, CsvImportOptions, parse_bulk_options
from imports.rows import BoundColumn, bind_mapping, header_of
from jobs.models import Chunk, Job
from jobs.services import (
    StagedChunk,
    job_add_chunk,
    job_add_chunks,
    job_create,
    job_fail,
    job_start,
)
from pcf.exceptions import BatchTooLarge, PcfError, ValidationError
from pcf.models import ApiClient
from resources.schemas import contains_nul

# Chunks are stored in batches of this many (or this much text): one COPY per batch.
# Bounds what the web process holds, whatever the file size.
STAGE_BATCH_CHUNKS = 16
STAGE_BATCH_CHARS = 4 * 1024 * 1024


class _CsvChunker:
    """Collects records into chunks of `chunk_size` and stores each as it fills."""

    def __init__(
        self,
        *,
        tenant: ApiClient,
        options: CsvImportOptions,
        header: list[str],
        columns: list[BoundColumn],
    ) -> None:
        self.tenant = tenant
        self.options = options
        self.header = header
        self.columns = columns
        self.job: Job | None = None
        self.records: list[str] = []
        self.total = 0
        self.seq = 0
        self.staged: list[StagedChunk] = []
        self.staged_chars = 0

    def add(self, records: list[str]) -> None:
        self.records.extend(records)
        size = self.options.chunk_size
        while len(self.records) >= size:
            self._store(self.records[:size])
            del self.records[:size]

    def finish(self) -> None:
        if self.records:
            self._store(self.records)
            self.records = []
        self._flush()

    def _store(self, records: list[str]) -> None:
        if self.job is None:
            self.job = job_create(
                tenant=self.tenant,
                type="csv_import",
                options={
                    **self.options.as_job_options(),
                    "header": self.header,
                    "columns": [[c.field, c.index, c.json] for c in self.columns],
                },
                webhook=self.options.webhook,
            )
        text = "".join(records)
        self.staged.append(StagedChunk(self.seq, self.total, len(records), text))
        self.staged_chars += len(text)
        self.seq += 1
        self.total += len(records)
        if len(self.staged) >= STAGE_BATCH_CHUNKS or self.staged_chars >= STAGE_BATCH_CHARS:
            self._flush()

    def _flush(self) -> None:
        """Store the staged chunks. Nothing runs before the whole file is read and valid
        at the file level (job_start): a bad byte at row 900,000 must not leave rows
        behind."""
        if not self.staged:
            return
        assert self.job is not None
        with transaction.atomic():
            # Staged chunks need no WAL flush each: job_start's commit flushes the WAL,
            # which makes every chunk before it durable before any of them runs.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
            job_add_chunks(job=self.job, chunks=self.staged, check=self.options.strict)
        self.staged = []
        self.staged_chars = 0


def _reject_upload(chunker: _CsvChunker | None, reason: str) -> None:
    """Fail the job of an upload that could not be read whole. No chunk was dispatched
    yet (dispatch waits for job_start), so no row was written; the stored chunk texts
    are dropped right away rather than left for a cleanup."""
    if chunker is None or chunker.job is None:
        return
    job = chunker.job
    job_fail(job=job, message=f"Upload rejected: {reason}; nothing was written")
    Chunk.objects.filter(job=job).update(payload_text=None)


def csv_import_start(
    *, tenant: ApiClient, options: CsvImportOptions, pieces: Iterable[bytes]
) -> tuple[Job, int]:
    """Read a CSV upload (byte pieces, gzip or not) into a job; return it and its row
    count. Raises ValidationError for an empty, header-only, undecodable or malformed
    file, or a mapped column the header lacks; PayloadTooLarge past the size cap. A
    problem found after chunks were stored fails the job; none of its chunks ever runs."""
    texts = decoded_text(plain_bytes(pieces, max_bytes=int(settings.PCF_IMPORT_MAX_BYTES)))
    chunker: _CsvChunker | None = None
    try:
        for batch in record_batches(texts):
            if chunker is None:
                header = header_of(next(csv.reader(batch[:1])))
                columns = bind_mapping(options.mapping, header)
                chunker = _CsvChunker(
                    tenant=tenant, options=options, header=header, columns=columns
                )
                batch = batch[1:]
            chunker.add(batch)
        if chunker is None:
            raise ValidationError(details=[{"field": "file", "message": "The file is empty"}])
        chunker.finish()
    except csv.Error as exc:
        malformed = ValidationError(details=[{"field": "file", "message": f"Malformed CSV: {exc}"}])
        _reject_upload(chunker, malformed.details[0]["message"])
        raise malformed from None
    except PcfError as error:
        _reject_upload(chunker, error.message)
        raise
    except BaseException:
        # A client that went away, a database error...: the stored chunks never run.
        _reject_upload(chunker, "the upload could not be read to the end")
        raise
    if chunker.job is None:
        raise ValidationError(
            details=[{"field": "file", "message": "The file has a header but no data rows"}]
        )
    job = chunker.job
    job_start(job=job, total=chunker.total)
    job.refresh_from_db()
    return job, chunker.total


def _items_of(body: Any) -> tuple[list[Any], Any]:
    if not isinstance(body, dict):
        raise ValidationError("The body must be a JSON object")
    unknown = sorted(set(body) - {"resources", "options"})
    if unknown:
        raise ValidationError(details=[{"field": k, "message": "Unknown field"} for k in unknown])
    items = body.get("resources")
    if not isinstance(items, list):
        raise ValidationError(details=[{"field": "resources", "message": "Must be a list"}])
    if not items:
        raise ValidationError(details=[{"field": "resources", "message": "Must not be empty"}])
    limit = int(settings.PCF_BULK_MAX_ITEMS)
    if len(items) > limit:
        raise BatchTooLarge(f"{len(items)} resources; at most {limit} per bulk import")
    return items, body.get("options")


def _check_all(items: list[Any], options: BulkImportOptions) -> None:
    details: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        values, problems = values_from_item(item)
        details.extend({"index": index, **p} for p in problems)
        if values is not None and options.upsert and options.upsert_key == "id" and not values.id:
            details.append(
                {"index": index, "field": "id", "message": "id is required to upsert by id"}
            )
    if details:
        failed = len({d["index"] for d in details})
        raise ValidationError(
            f"{failed} of {len(items)} resources are invalid; nothing was imported", details=details
        )


def _refuse_nul(items: list[Any]) -> None:
    """U+0000 cannot be stored at all (PostgreSQL jsonb), not even in a chunk's payload
    to be reported as that row's error later: it was a 500. A 400 naming the items."""
    bad = [index for index, item in enumerate(items) if contains_nul(item)]
    if bad:
        raise ValidationError(
            f"{len(bad)} resources contain the NUL character (U+0000); nothing was imported",
            details=[
                {"index": i, "field": "resources", "message": "Must not contain U+0000"}
                for i in bad[:100]
            ],
        )


@transaction.atomic
def bulk_import_start(*, tenant: ApiClient, body: Any) -> Job:
    """Turn a JSON bulk import into a job: chunks are stored and dispatched on commit.
    With validate_before_import every item is checked first (400 listing each bad
    item's index and field, nothing stored)."""
    items, raw_options = _items_of(body)
    options = parse_bulk_options(raw_options)
    _refuse_nul(items)
    if options.validate_before_import:
        _check_all(items, options)
    job = job_create(
        tenant=tenant, type="bulk_import", options=options.as_job_options(), webhook=options.webhook
    )
    size = options.chunk_size
    for seq, start in enumerate(range(0, len(items), size)):
        part = items[start : start + size]
        job_add_chunk(
            job=job, seq=seq, row_offset=start, row_count=len(part), payload=part, dispatch=False
        )
    job_start(job=job, total=len(items))
    return job
