"""A job's life from outside: submit (create, store its chunks in pages, seal), cancel,
fail, re-run failed chunks. Nothing here runs a chunk: sealing a job makes its chunks
ready, and the window (jobs.engine.dispatch) takes them."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone
from psycopg.types.json import Jsonb

from jobs import progress
from jobs.engine import checks, dispatch, ledger
from jobs.handlers import RowError, is_registered, job_types
from jobs.models import ACTIVE_STATUSES, Chunk, ChunkStatus, Job, JobError, JobStatus
from jobs.parsing import WebhookOption
from pcf import logcontext, metrics
from pcf.db import commit_without_flush
from pcf.exceptions import Conflict, PcfError, ValidationError
from pcf.models import ApiClient

# Chunks are stored in pages of this many (or this much text): one COPY and one commit
# per page. Each chunk goes into the page's COPY as soon as it is read, so PostgreSQL
# stores one while the next is parsed, and a submission holds one chunk in memory.
STAGE_PAGE_CHUNKS = 16
STAGE_PAGE_CHARS = 4 * 1024 * 1024

logger = logging.getLogger("pcf.jobs")


@dataclass(frozen=True)
class ChunkInput:
    """One chunk's input: a JSON payload, or text (e.g. CSV records), and how many of
    the job's units it holds."""

    row_count: int
    payload: Any = None
    payload_text: str | None = None
    # The job kind's check already passed it (e.g. proved while uploading): stored
    # checked, it needs no check message even when the job has a check pass.
    checked: bool = False


def job_create(
    *,
    tenant: ApiClient,
    type: str,
    options: dict[str, Any],
    webhook: WebhookOption | None = None,
    handler: str = "",
    request_id: str | None = None,
) -> Job:
    """Return a new `queued` job; nothing runs until it is sealed (job_start).
    `type` must be a registered job kind (jobs.handlers); `webhook` an option already
    checked by jobs.parsing.parse_webhook_option; `handler` picks a chunk handler other
    than the one registered for `type`. `request_id` (default: the current request's,
    pcf.request_id) ties the job to the API call that made it, in the logs too."""
    for name in (type, handler):
        if name and not is_registered(name):
            raise ValidationError(f"Unknown job type {name!r}; known: {', '.join(job_types())}")
    if request_id is None:
        request_id = str(logcontext.current("request_id") or "")
    job = Job.objects.create(
        tenant=tenant,
        type=type,
        options=options,
        webhook=webhook.as_json() if webhook is not None else None,
        handler=handler,
        request_id=request_id,
    )
    logger.info("job %s (%s) created for tenant %s", job.id, type, tenant.pk)
    transaction.on_commit(
        lambda: metrics.JOBS.labels(type=type, status=JobStatus.QUEUED).inc(), robust=True
    )
    return job


# Binary: text goes as its UTF-8 bytes, where the text format escapes every line end of
# a CSV chunk on the client and unescapes it on the server (1M rows: 0.36 s of the web's
# 1.7 s upload went to psycopg's escaping).
_STAGE_COPY_SQL = (
    "COPY jobs_chunk (job_id, seq, row_offset, row_count, payload, payload_text, status,"
    " attempts, successful, failed, skipped, error, checked) FROM STDIN (FORMAT binary)"
)
_STAGE_COPY_TYPES = (
    "varchar", "int4", "int4", "int4", "jsonb", "text", "varchar",
    "int4", "int4", "int4", "int4", "text", "bool",
)  # fmt: skip


@dataclass(frozen=True)
class StagedChunk:
    seq: int
    row_offset: int
    chunk: ChunkInput


@transaction.atomic
def job_add_chunks(*, job: Job, chunks: Iterable[StagedChunk], check: bool = False) -> int:
    """Store chunks of a job that is not sealed, in one COPY and one counter update
    (an INSERT each cost a round trip and quoting ~100 KB of text into the SQL on the
    client); return how many. Each chunk is sent as `chunks` yields it: the COPY is
    open meanwhile, so producing one must not use the database. With `check`, they are
    staged for the job kind's check handler (but those marked `checked`): the window
    checks them while the rest is stored, and none is applied before all passed."""
    stored = unchecked = 0
    with (
        connection.cursor() as wrapper,
        connection.wrap_database_errors,
        wrapper.cursor.copy(_STAGE_COPY_SQL) as copy,
    ):
        copy.set_types(list(_STAGE_COPY_TYPES))
        for staged in chunks:
            item = staged.chunk
            payload = None if item.payload is None else Jsonb(item.payload)
            head = (job.id, staged.seq, staged.row_offset, item.row_count, payload)
            counters = (0, 0, 0, 0, "")  # attempts, successful, failed, skipped, error
            checked = item.checked or not check
            copy.write_row((*head, item.payload_text, "pending", *counters, checked))
            stored += 1
            unchecked += not checked
    if not stored:
        return 0
    updated = Job.objects.filter(pk=job.pk, sealed=False).update(
        chunks_total=F("chunks_total") + stored,
        chunks_unchecked=F("chunks_unchecked") + unchecked,
        updated_at=timezone.now(),
    )
    if not updated:
        raise Conflict(f"Job {job.id} is sealed; no chunk can be added")
    if unchecked:
        dispatch.refill_after_commit()  # checks start while the rest is stored
    return stored


@transaction.atomic
def job_start(*, job: Job, total: int) -> None:
    """Seal the job (no more chunks) with its total: its chunks become ready (after its
    check pass, if it has one). A job whose chunks are all done already (or that has
    none) finishes here."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE jobs_job SET sealed = TRUE, total = %s, updated_at = %s,
                status = CASE WHEN status = 'queued' THEN 'processing' ELSE status END,
                started_at = COALESCE(started_at, %s)
            WHERE id = %s AND sealed = FALSE
            RETURNING status, chunks_unchecked
            """,
            [total, now, now, job.id],
        )
        row = cursor.fetchone()
    if row is None:
        raise Conflict(f"Job {job.id} is already started")
    status, unchecked = row
    if status in ACTIVE_STATUSES and unchecked == 0:
        checks.after_checks(job.id)
    ledger.finish_if_complete(job.id)
    job.refresh_from_db()
    transaction.on_commit(lambda: progress.publish(job))
    dispatch.refill_after_commit()


def job_submit(
    *,
    tenant: ApiClient,
    type: str,
    chunks: Iterable[ChunkInput],
    options: dict[str, Any] | None = None,
    webhook: WebhookOption | None = None,
    handler: str = "",
    check: bool = False,
) -> Job:
    """Create a job, store its chunks page by page as `chunks` yields them, and seal it
    with the sum of their units; return it. Outside a transaction each page commits on
    its own (an upload of any size never holds one transaction); inside one, the job is
    submitted when it commits. If `chunks` raises, the job fails with nothing applied,
    its stored input is dropped, and the exception propagates. `chunks` are read while
    a page's COPY is open, so producing them must not use the database. `check`: see
    job_add_chunks."""
    job = job_create(
        tenant=tenant, type=type, options=options or {}, webhook=webhook, handler=handler
    )
    total = 0
    try:
        source = iter(chunks)
        seq = 0
        while (first := next(source, None)) is not None:
            page = _Page(itertools.chain([first], source), seq, total)
            with transaction.atomic():
                # Stored chunks need no WAL flush each: sealing the job flushes, which
                # makes every chunk before it durable before any of them runs.
                commit_without_flush()
                job_add_chunks(job=job, chunks=page, check=check)
            seq, total = page.seq, page.row
    except BaseException as exc:
        if not connection.in_atomic_block:  # else the caller's rollback drops the job
            reason = exc.message if isinstance(exc, PcfError) else "it could not be read to the end"
            job_fail(job=job, message=f"Input rejected: {reason}; nothing was written")
        raise
    job_start(job=job, total=total)
    return job


class _Page:
    """The next page of a submission's chunks, numbered on from `seq` and `row`: read
    from `items` only as the COPY takes them, up to the page's size."""

    def __init__(self, items: Iterator[ChunkInput], seq: int, row: int) -> None:
        self.items, self.seq, self.row = items, seq, row

    def __iter__(self) -> Iterator[StagedChunk]:
        taken = chars = 0
        for item in self.items:
            yield StagedChunk(self.seq, self.row, item)
            self.seq, self.row, taken = self.seq + 1, self.row + item.row_count, taken + 1
            chars += len(item.payload_text or "")
            if taken >= STAGE_PAGE_CHUNKS or chars >= STAGE_PAGE_CHARS:
                return


@transaction.atomic
def job_fail(*, job: Job, message: str, errors: Sequence[RowError] = ()) -> None:
    """End an unfinished job `failed` with `message` and its row errors (e.g. input
    that could not be read to the end); chunks not run yet never run, and their input
    is dropped. (A job failed by its check pass ends in checks.after_checks.)"""
    ledger.insert_errors(job_id=job.id, chunk_id=None, errors=errors)
    Job.objects.filter(pk=job.pk).update(sealed=True)
    ledger.finish(job.id, JobStatus.FAILED, message)
    job.refresh_from_db()


@transaction.atomic
def job_cancel(*, job: Job) -> Job:
    """Cancel an unfinished job: chunks not started never run; a chunk already running
    commits normally and is counted, and the job settles (finished_at, webhook) after
    it. A finished job raises Conflict."""
    if not ledger.finish(job.id, JobStatus.CANCELLED, "Cancelled by request"):
        raise Conflict(f"Job {job.id} is already {Job.objects.get(pk=job.pk).status}")
    job.refresh_from_db()
    return job


@transaction.atomic
def job_rerun_failed_chunks(*, job: Job) -> int:
    """Put a job's failed chunks back to ready (their counters and error rows undone);
    a failed or completed job goes back to processing. Returns how many chunks were
    re-queued. A cancelled job raises Conflict."""
    locked = Job.objects.select_for_update().get(pk=job.pk)
    if locked.status == JobStatus.CANCELLED:
        raise Conflict(f"Job {job.id} was cancelled")
    failed = list(Chunk.objects.select_for_update().filter(job=locked, status=ChunkStatus.FAILED))
    if not failed:
        return 0
    JobError.objects.filter(chunk__in=failed).delete()
    Job.objects.filter(pk=locked.pk).update(
        processed=F("processed") - sum(c.successful + c.failed + c.skipped for c in failed),
        successful=F("successful") - sum(c.successful for c in failed),
        failed=F("failed") - sum(c.failed for c in failed),
        skipped=F("skipped") - sum(c.skipped for c in failed),
        chunks_finished=F("chunks_finished") - len(failed),
        status=JobStatus.PROCESSING,
        finished_at=None,
        message="",
        updated_at=timezone.now(),
    )
    Chunk.objects.filter(pk__in=[c.pk for c in failed]).update(
        status=ChunkStatus.PENDING,
        successful=0,
        failed=0,
        skipped=0,
        attempts=0,
        error="",
        finished_at=None,
        dispatch=None,
        ready_at=Now(),  # waiting from now on, for the backlog's age (jobs.metrics)
    )
    dispatch.refill_after_commit()
    return len(failed)


def job_fail_interrupted(*, job_id: str, stale_before: datetime) -> bool:
    """Fail a job that was never sealed and has not changed since `stale_before`: the
    process submitting it (an upload) died. None of its chunks was ever applied; their
    stored input is dropped. True if this call failed it."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.sealed or job.status not in ACTIVE_STATUSES:
            return False
        if job.updated_at >= stale_before:
            return False
        job_fail(job=job, message="The submission was interrupted; nothing was written")
        Chunk.objects.filter(job_id=job_id).update(payload_text=None, payload=None)
    return True
