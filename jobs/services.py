"""Job engine services: create, fill and start jobs, run one chunk exactly once,
finish a job exactly once, cancel, fail and re-run.

Exactly once: a chunk is claimed with `SELECT … FOR UPDATE SKIP LOCKED` on
`status = 'pending'` inside the transaction that also holds the handler's writes, the
row errors, the done mark and the job's counters. A second delivery of the same chunk
either skips it (locked by the running attempt, or no longer pending) or, when the
first attempt died, finds it pending again because the dead attempt rolled back.

Finishing exactly once: the last chunk to commit sees, under the job row's lock
(taken by its counter UPDATE), that all chunks of a sealed job are finished, and moves
the job out of `processing` with a conditional UPDATE; only one transaction can.

Settling: a job cancelled (or failed) while a chunk runs is `cancelled` at once, and
that chunk still commits and is counted. `finished_at`, the final progress event and
the webhook wait until no chunk of the job is pending any more (`_settle`), so they
carry the final counts; the summary is derived from the counters whenever read."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, JSONField, Model, OuterRef
from django.utils import timezone

from jobs import progress
from jobs.handlers import ChunkOutcome, RowError, get_check_handler, get_chunk_handler
from jobs.models import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    Chunk,
    ChunkStatus,
    Job,
    JobError,
    JobStatus,
    JobType,
    chunk_task_id,
)
from jobs.task_results import TaskRecord
from pcf.exceptions import Conflict, ValidationError
from pcf.models import ApiClient, new_webhook_secret

logger = logging.getLogger("pcf.jobs")

# Row errors are written in slices: one INSERT per 1,000 errors keeps big lenient
# imports from building one huge statement.
ERROR_INSERT_BATCH = 1000


# --- creating and filling jobs ---------------------------------------------------------


def job_create(
    *,
    tenant: ApiClient,
    type: str,
    options: dict[str, Any],
    webhook: dict[str, Any] | None = None,
    handler: str = "",
) -> Job:
    """Return a new `queued` job; nothing is dispatched until chunks are added.
    `webhook` is an option already checked by jobs.webhooks.parse_webhook_option.
    `handler` picks a chunk handler other than the one registered for `type`."""
    if type not in JobType.values:
        raise ValidationError(f"Unknown job type {type!r}")
    return Job.objects.create(
        tenant=tenant, type=type, options=options, webhook=webhook, handler=handler
    )


@transaction.atomic
def job_add_chunk(
    *,
    job: Job,
    seq: int,
    row_offset: int,
    row_count: int,
    payload: Any = None,
    payload_text: str | None = None,
    dispatch: bool = True,
) -> Chunk:
    """Store one chunk's input in PostgreSQL; with `dispatch`, its task is sent when
    the surrounding transaction commits (pipelined imports start working at once)."""
    now = timezone.now()
    chunk = Chunk.objects.create(
        job=job,
        seq=seq,
        row_offset=row_offset,
        row_count=row_count,
        payload=payload,
        payload_text=payload_text,
        dispatched_at=now if dispatch else None,
    )
    updated = Job.objects.filter(pk=job.pk, sealed=False).update(
        chunks_total=F("chunks_total") + 1, updated_at=now
    )
    if not updated:
        raise Conflict(f"Job {job.id} is started; no chunk can be added")
    if dispatch:
        _send_on_commit([(chunk.pk, job.id, seq)])
    return chunk


@dataclass(frozen=True)
class StagedChunk:
    """A text chunk to store before the job starts (see job_add_chunks)."""

    seq: int
    row_offset: int
    row_count: int
    payload_text: str


_STAGE_COPY_SQL = (
    "COPY jobs_chunk (job_id, seq, row_offset, row_count, payload_text, status, attempts,"
    " successful, failed, skipped, error, checked, dispatched_at) FROM STDIN"
)


@transaction.atomic
def job_add_chunks(*, job: Job, chunks: Sequence[StagedChunk], check: bool = False) -> None:
    """Store several text chunks of a job that has not started, in one COPY and one
    counter update. For uploads that stage thousands of ~100 KB chunks: one INSERT each
    cost a round trip and quoting the text into the SQL on the client (about 1.3 ms of
    web CPU per chunk). None is applied before job_start; with `check`, each is sent to
    its check handler (chunks_check) when this commits, and none is applied before all
    chunks of the job passed."""
    if not chunks:
        return
    now = timezone.now()
    updated = Job.objects.filter(pk=job.pk, sealed=False).update(
        chunks_total=F("chunks_total") + len(chunks),
        chunks_unchecked=F("chunks_unchecked") + (len(chunks) if check else 0),
        updated_at=now,
    )
    if not updated:
        raise Conflict(f"Job {job.id} is started; no chunk can be added")
    dispatched = now if check else None
    with (
        connection.cursor() as wrapper,
        connection.wrap_database_errors,
        wrapper.cursor.copy(_STAGE_COPY_SQL) as copy,
    ):
        for c in chunks:
            counters = (0, 0, 0, 0, "")  # attempts, successful, failed, skipped, error
            head = (job.id, c.seq, c.row_offset, c.row_count, c.payload_text, "pending")
            copy.write_row((*head, *counters, not check, dispatched))
    if check:
        staged = list(
            Chunk.objects.filter(job=job, seq__in=[c.seq for c in chunks]).values_list("pk", "seq")
        )
        transaction.on_commit(lambda: send_check_tasks([(pk, job.id, seq) for pk, seq in staged]))


@transaction.atomic
def job_start(*, job: Job, total: int) -> None:
    """Seal the job (no more chunks), set its total and dispatch the chunks not sent
    yet, unless chunks still wait for their check (the last check decides then). A job
    whose chunks are all done already (or that has none) finishes here."""
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
        _after_checks(job.id)
    _finish_if_complete(job.id)
    job.refresh_from_db()
    transaction.on_commit(lambda: progress.publish(job))


def _after_checks(job_id: str) -> None:
    """The sealed job has no chunk left to check: fail it if a check found invalid rows
    (nothing was applied, nothing will be), else dispatch every chunk not sent yet."""
    job = Job.objects.select_for_update().get(pk=job_id)
    if job.status not in ACTIVE_STATUSES:
        return
    if job.check_failed:
        invalid = min(job.check_failed, job.total)
        Job.objects.filter(pk=job_id).update(
            processed=job.total, failed=invalid, skipped=job.total - invalid
        )
        _finish(
            job_id,
            JobStatus.FAILED,
            f"Strict validation failed: {invalid} of {job.total} rows are invalid; "
            "nothing was written",
        )
        return
    _flush_commit()  # the verdict: every chunk is about to be applied
    now = timezone.now()
    undispatched = list(
        Chunk.objects.filter(
            job_id=job_id, status=ChunkStatus.PENDING, dispatched_at__isnull=True
        ).values_list("pk", "seq")
    )
    Chunk.objects.filter(pk__in=[pk for pk, _ in undispatched]).update(dispatched_at=now)
    _send_on_commit([(pk, job_id, seq) for pk, seq in undispatched])


@transaction.atomic
def job_fail(*, job: Job, message: str, errors: Sequence[RowError] = ()) -> None:
    """End an unfinished job `failed` with `message` and its row errors (e.g. an upload
    that could not be read to the end); chunks not run yet never run. (A strict import
    failed by its check pass ends in _after_checks, with its counts.)"""
    _insert_errors(job_id=job.id, chunk_id=None, errors=errors)
    Job.objects.filter(pk=job.pk).update(sealed=True)
    _finish(job.id, JobStatus.FAILED, message)
    job.refresh_from_db()


@transaction.atomic
def job_cancel(*, job: Job) -> Job:
    """Cancel an unfinished job: chunks not started never run; a chunk already running
    commits normally and is counted, and the job settles (finished_at, webhook) after
    it. A finished job raises Conflict."""
    if not _finish(job.id, JobStatus.CANCELLED, "Cancelled by request"):
        raise Conflict(f"Job {job.id} is already {Job.objects.get(pk=job.pk).status}")
    job.refresh_from_db()
    return job


# --- running one chunk -----------------------------------------------------------------


def chunk_run(*, chunk_id: int, record: TaskRecord | None = None) -> str:
    """Apply one chunk exactly once; return what happened. With `record` (the running
    Celery task), that outcome is also stored as the task's result, in the transaction
    that decides it. Transient database errors propagate so the task can retry them."""
    if not _mark_attempt(chunk_id):
        return _skipped(record, "skipped: not pending, or running elsewhere")
    with transaction.atomic():
        claimed = _claim([chunk_id])
        if not claimed:
            return _skipped(record, "skipped: not pending, or running elsewhere")
        chunk = claimed[0]
        job = chunk.job
        if job.status not in ACTIVE_STATUSES:
            _drop_chunk(chunk)
            return _skipped(record, f"skipped: job {job.status}")
        if job.chunks_unchecked or job.check_failed:
            # A stray message: nothing applies before the whole check pass passed (the
            # last check dispatches every chunk again).
            return _skipped(record, "skipped: the job's check pass is not over")
        if chunk.attempts > settings.PCF_CHUNK_MAX_ATTEMPTS:
            _record_failure(chunk, f"gave up after {chunk.attempts - 1} attempts")
            return _skipped(record, "failed: too many attempts")
        handler = get_chunk_handler(job.handler_name)
        if handler is None:
            raise LookupError(f"No chunk handler registered for {job.handler_name!r}")
        started = time.monotonic()
        outcome = handler(job, chunk)
        _check_outcome(chunk, outcome)
        _insert_errors(job_id=job.id, chunk_id=chunk.pk, errors=outcome.errors)
        message = (
            f"done: {outcome.successful} ok, {outcome.failed} failed, {outcome.skipped} skipped"
        )
        duration_ms = int((time.monotonic() - started) * 1000)
        counters = _complete_chunk(chunk, outcome, duration_ms, record, message)
        if outcome.fail_job or counters.all_chunks_finished:
            # Chunk tasks commit without waiting for the WAL flush (jobs.tasks): a
            # PostgreSQL crash loses a chunk's rows and its done mark together, and the
            # sweeper runs it again. The commit that finishes the job does flush: its
            # webhook must not announce what a crash could take back, and that flush
            # covers every earlier commit.
            _flush_commit()
        if outcome.fail_job:
            _finish(job.id, JobStatus.FAILED, outcome.fail_job)
        elif counters.all_chunks_finished:
            _finish_if_complete(job.id)
    return message


# A failed check pass keeps this many row errors (its counters cover all of them): a
# million bad rows must not become a million error rows.
CHECK_ERRORS_KEPT = 10_000


def chunks_check(*, chunk_ids: Sequence[int], record: TaskRecord | None = None) -> str:
    """Check staged chunks of one job with its check handler (no writes but the
    verdict): count their invalid rows, keep their errors and memos, in one transaction.
    The last check of a sealed job decides (_after_checks): fail it, or dispatch its
    chunks to be applied. Checks come in batches: per chunk, a task of its own cost
    more than the check itself."""
    if _mark_check_attempt(chunk_ids) > settings.PCF_CHUNK_MAX_ATTEMPTS:
        check_record_failure(chunk_ids=chunk_ids, message="gave up after repeated attempts")
        return _skipped(record, "failed: too many attempts")
    with transaction.atomic():
        chunks = _claim(chunk_ids, unchecked=True)
        if not chunks:
            return _skipped(record, "skipped: checked already, or being checked elsewhere")
        job = chunks[0].job
        if any(c.job_id != job.id for c in chunks):
            raise ValueError("chunks of one check task must belong to one job")
        if job.status not in ACTIVE_STATUSES:
            _drop_checks(job.id, chunks)
            return _skipped(record, f"skipped: job {job.status}")
        handler = get_check_handler(job.handler_name)
        if handler is None:
            raise LookupError(f"No check handler registered for {job.handler_name!r}")
        # One chunk at a time, keeping only the errors there is room for: a batch of
        # big chunks full of bad rows must not hold all their errors at once.
        room: int | None = None  # counted once a chunk has errors; most have none
        kept: list[RowError] = []
        invalid = 0
        memos: list[str | None] = []
        for chunk in chunks:
            outcome = handler(job, chunk)
            invalid += outcome.invalid
            if outcome.errors:
                room = _error_room(job) if room is None else room
                kept.extend(outcome.errors[: max(0, room - len(kept))])
            memos.append(json.dumps(outcome.memo) if outcome.memo is not None else None)
        with connection.cursor() as cursor:
            cursor.execute(
                """
                WITH checked AS (
                    UPDATE jobs_chunk AS c
                    SET checked = TRUE, dispatched_at = NULL, attempts = 0,
                        payload = COALESCE(m.memo, c.payload)
                    FROM unnest(%s::bigint[], %s::jsonb[]) AS m(id, memo)
                    WHERE c.id = m.id
                )
                UPDATE jobs_job SET chunks_unchecked = chunks_unchecked - %s,
                    check_failed = check_failed + %s, updated_at = %s
                WHERE id = %s
                RETURNING status, sealed, chunks_unchecked
                """,
                [[c.pk for c in chunks], memos, len(chunks), invalid, timezone.now(), job.id],
            )
            status, sealed, unchecked = cursor.fetchone()
        message = f"checked {len(chunks)} chunk(s): {invalid} invalid row(s)"
        _skipped(record, message)  # the task's result row, in this transaction
        if status not in ACTIVE_STATUSES:
            # Cancelled or failed while this check held its chunks (so _finish could not
            # stop them): they will never be applied; the job may settle now.
            _drop_checks(job.id, chunks)
            return message
        _insert_errors(job_id=job.id, chunk_id=None, errors=kept)
        if sealed and unchecked == 0:
            _after_checks(job.id)
    return message


def _drop_checks(job_id: str, chunks: Sequence[Chunk]) -> None:
    Chunk.objects.filter(pk__in=[c.pk for c in chunks], status=ChunkStatus.PENDING).update(
        status=ChunkStatus.CANCELLED
    )
    _settle(job_id)


def _error_room(job: Job) -> int:
    """How many more row errors a check pass may keep for this job."""
    if job.check_failed >= CHECK_ERRORS_KEPT:
        return 0
    return max(0, CHECK_ERRORS_KEPT - JobError.objects.filter(job_id=job.id).count())


def _mark_check_attempt(chunk_ids: Sequence[int]) -> int:
    """Stamp an attempt on the chunks still to check, in its own commit (as
    _mark_attempt): a check that keeps killing its worker is given up on, and the sweeper
    leaves a running check alone. Returns the highest attempt count (0: none left)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH marked AS (
                UPDATE jobs_chunk SET attempts = attempts + 1, last_attempt_at = %s
                WHERE id = ANY(%s) AND status = 'pending' AND NOT checked
                RETURNING attempts
            )
            SELECT COALESCE(max(attempts), 0) FROM marked
            """,
            [timezone.now(), list(chunk_ids)],
        )
        return int(cursor.fetchone()[0])


def check_record_failure(*, chunk_ids: Sequence[int], message: str) -> bool:
    """Chunks could not be checked: their job fails (nothing of it was applied), with
    one INTERNAL error saying why. False if the job is finished already, or if those
    chunks were checked after all (a re-sent check did it): the verdict stands."""
    with transaction.atomic():
        chunk = (
            Chunk.objects.select_related("job")
            .filter(pk__in=chunk_ids, checked=False, status=ChunkStatus.PENDING)
            .order_by("seq")
            .first()
        )
        if chunk is None or chunk.job.status not in ACTIVE_STATUSES:
            return False
        text = f"Checking chunk {chunk.seq} (row {chunk.row_offset + 1} on) failed: {message}"
        JobError.objects.create(
            job_id=chunk.job_id, chunk=chunk, field="", code="INTERNAL", message=text
        )
        return _finish(chunk.job_id, JobStatus.FAILED, text)


def _skipped(record: TaskRecord | None, message: str) -> str:
    if record is not None:
        sql, params = record.upsert(message, timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    return message


def _flush_commit() -> None:
    """Make this transaction's commit wait for its WAL flush, whatever the session says."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = on")


def _mark_attempt(chunk_id: int) -> bool:
    """Count an attempt and stamp it, in its own commit (one autocommit statement): kept
    even if the worker dies, so the sweeper leaves a running chunk alone and a poison
    chunk is given up on. False when the chunk is not pending or another worker holds
    it."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE jobs_chunk SET attempts = attempts + 1, last_attempt_at = %s
            WHERE id = (SELECT id FROM jobs_chunk WHERE id = %s AND status = 'pending'
                        FOR UPDATE SKIP LOCKED)
            """,
            [timezone.now(), chunk_id],
        )
        return cursor.rowcount == 1


def _columns(model: type[Model], alias: str) -> tuple[list[str], str]:
    names = [f.attname for f in model._meta.concrete_fields]
    return names, ", ".join(f'{alias}."{f.column}"' for f in model._meta.concrete_fields)


@functools.cache
def _claim_query(unchecked: bool) -> tuple[str, list[str], list[str], list[str]]:
    chunk_names, chunk_sql = _columns(Chunk, "c")
    job_names, job_sql = _columns(Job, "j")
    tenant_names, tenant_sql = _columns(ApiClient, "t")
    sql = (
        f"SELECT {chunk_sql}, {job_sql}, {tenant_sql} "  # noqa: S608 - names from model metadata
        f"FROM {Chunk._meta.db_table} c JOIN {Job._meta.db_table} j ON j.id = c.job_id "
        f"JOIN {ApiClient._meta.db_table} t ON t.id = j.tenant_id "
        f"WHERE c.id = ANY(%s) AND c.status = 'pending' AND c.checked = {not unchecked} "
        "ORDER BY c.seq FOR UPDATE OF c SKIP LOCKED"
    )
    return sql, chunk_names, job_names, tenant_names


def _claim(chunk_ids: Sequence[int], *, unchecked: bool = False) -> list[Chunk]:
    """Lock the pending chunks (SKIP LOCKED: one another attempt holds is left out) and
    load each with its job and tenant in one statement, as select_related would, without
    building the query through the ORM every time. A chunk waiting for its check is
    claimed only with `unchecked`, and then only those."""
    sql, chunk_names, job_names, tenant_names = _claim_query(unchecked)
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(chunk_ids)])
        rows = cursor.fetchall()
    a, b = len(chunk_names), len(chunk_names) + len(job_names)
    alias = connection.alias
    claimed = []
    for row in rows:
        chunk = Chunk.from_db(alias, chunk_names, _converted(Chunk, row[:a]))
        job = Job.from_db(alias, job_names, _converted(Job, row[a:b]))
        job.tenant = ApiClient.from_db(alias, tenant_names, _converted(ApiClient, row[b:]))
        chunk.job = job
        claimed.append(chunk)
    return claimed


def _converted(model: type[Model], values: Sequence[Any]) -> list[Any]:
    """Column values as the ORM would hand them to from_db (JSON text to Python)."""
    converted = list(values)
    for i, field in enumerate(model._meta.concrete_fields):
        if isinstance(field, JSONField) and isinstance(converted[i], str):
            converted[i] = cast(Any, field).from_db_value(converted[i], None, connection)
    return converted


def _check_outcome(chunk: Chunk, outcome: ChunkOutcome) -> None:
    if min(outcome.successful, outcome.failed, outcome.skipped) < 0:
        raise ValueError(f"chunk handler returned negative counts for {chunk}")


def chunk_record_failure(*, chunk_id: int, message: str) -> bool:
    """Record that a chunk could not be applied (its writes were rolled back): all its
    rows count as failed, one INTERNAL error row says why, and the job ends `failed`
    once its other chunks are finished. False if the chunk was no longer pending."""
    with transaction.atomic():
        chunk = (
            Chunk.objects.select_for_update(of=("self",))
            .select_related("job")
            .filter(pk=chunk_id, status=ChunkStatus.PENDING)
            .first()
        )
        if chunk is None:
            return False
        if chunk.job.status not in ACTIVE_STATUSES:
            _drop_chunk(chunk)
            return False
        _record_failure(chunk, message)
    return True


def _drop_chunk(chunk: Chunk) -> None:
    """A pending chunk of a finished job never runs; it may be the last one the job
    was waiting for (taken by a worker as the job was cancelled)."""
    Chunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.CANCELLED)
    _settle(chunk.job_id)


def _record_failure(chunk: Chunk, message: str) -> None:
    first, last = chunk.row_offset + 1, chunk.row_offset + chunk.row_count
    text = f"Chunk {chunk.seq} (rows {first}-{last}) failed: {message}"
    JobError.objects.create(
        job_id=chunk.job_id, chunk=chunk, field="", code="INTERNAL", message=text
    )
    Chunk.objects.filter(pk=chunk.pk).update(
        status=ChunkStatus.FAILED,
        successful=0,
        failed=chunk.row_count,
        error=message[:2000],
        finished_at=timezone.now(),
    )
    if _count_chunk(chunk.job_id, 0, chunk.row_count).all_chunks_finished:
        _finish_if_complete(chunk.job_id)


# --- counters and finishing ------------------------------------------------------------


@dataclass(frozen=True)
class Counters:
    """The job row's state right after a chunk was counted (under the row's lock)."""

    status: str
    sealed: bool
    chunks_total: int
    chunks_finished: int
    total: int
    processed: int
    successful: int
    failed: int
    skipped: int

    @property
    def all_chunks_finished(self) -> bool:
        return self.sealed and self.chunks_finished >= self.chunks_total


_COUNT_SQL = """
UPDATE jobs_job SET
    processed = processed + %s, successful = successful + %s,
    failed = failed + %s, skipped = skipped + %s,
    chunks_finished = chunks_finished + 1,
    status = CASE WHEN status = 'queued' THEN 'processing' ELSE status END,
    started_at = COALESCE(started_at, %s), updated_at = %s
WHERE id = %s
RETURNING status, sealed, chunks_total, chunks_finished, total, processed,
    successful, failed, skipped
"""


def _count_chunk(
    job_id: str,
    successful: int,
    failed: int,
    skipped: int = 0,
    *,
    also: Sequence[tuple[str, list[Any]]] = (),
) -> Counters:
    """Add a finished chunk to the job's counters (locks the job row until commit) and
    announce the new counts once committed; one round trip, which also runs the
    data-modifying statements `also` (as WITH queries). A chunk that commits after its
    job was cancelled or failed is counted too, and may settle the job."""
    now = timezone.now()
    prelude = ", ".join(f"also_{i} AS ({sql})" for i, (sql, _) in enumerate(also))
    params = [p for _, statement_params in also for p in statement_params]
    sql = f"{'WITH ' + prelude if prelude else ''} {_COUNT_SQL}"
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [*params, successful + failed + skipped, successful, failed, skipped, now, now, job_id],
        )
        counters = Counters(*cursor.fetchone())
    if counters.status in ACTIVE_STATUSES:
        if not counters.all_chunks_finished:
            # A finishing job announces itself in _after_finish instead.
            transaction.on_commit(lambda: progress.publish_counts(job_id, counters))
    elif not _settle(job_id):
        # Still waiting on another running chunk: announce the counts so far.
        transaction.on_commit(lambda: progress.publish_counts(job_id, counters))
    return counters


_CHUNK_DONE_SQL = """
UPDATE jobs_chunk SET status = 'done', successful = %s, failed = %s, skipped = %s,
    result = %s::jsonb, finished_at = %s, duration_ms = %s
WHERE id = %s
"""


def _complete_chunk(
    chunk: Chunk,
    outcome: ChunkOutcome,
    duration_ms: int,
    record: TaskRecord | None,
    message: str,
) -> Counters:
    """Mark the chunk done, count it in its job and record the task's result: one
    statement, in the chunk's transaction."""
    result = None
    if outcome.results is not None or outcome.meta is not None:
        result = json.dumps({"results": outcome.results or [], "meta": outcome.meta or {}})
    now = timezone.now()
    done = [outcome.successful, outcome.failed, outcome.skipped, result, now, duration_ms]
    also = [(_CHUNK_DONE_SQL, [*done, chunk.pk])]
    if record is not None:
        also.append(record.upsert(message, now))
    return _count_chunk(
        chunk.job_id, outcome.successful, outcome.failed, outcome.skipped, also=also
    )


def _finish_if_complete(job_id: str) -> bool:
    """Finish a sealed job whose chunks are all finished; True if this call did."""
    job = Job.objects.select_for_update().get(pk=job_id)
    if not job.sealed or job.chunks_finished < job.chunks_total:
        return False
    if job.status not in ACTIVE_STATUSES:
        return False
    failed_chunks = Chunk.objects.filter(job_id=job_id, status=ChunkStatus.FAILED).count()
    if failed_chunks:
        return _finish(job_id, JobStatus.FAILED, f"{failed_chunks} chunk(s) could not be applied")
    return _finish(job_id, JobStatus.COMPLETED, "")


def _finish(job_id: str, status: str, message: str) -> bool:
    """Move an unfinished job to `status` (conditional UPDATE: at most once), stop its
    pending chunks, and settle it unless a chunk of it is still running."""
    now = timezone.now()
    job = Job.objects.select_for_update().get(pk=job_id)
    if job.status not in ACTIVE_STATUSES:
        return False
    updated = Job.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).update(
        status=status,
        message=message,
        started_at=job.started_at or job.created_at,
        updated_at=now,
    )
    if not updated:
        return False
    _flush_commit()  # what a finished job announces must survive a PostgreSQL crash
    _stop_pending_chunks(job_id)
    _settle(job_id)
    return True


def _settle(job_id: str) -> bool:
    """Stamp `finished_at` on a finished job once none of its chunks is pending (i.e.
    running: _stop_pending_chunks cancelled the others), and announce it after commit:
    final progress event and webhook, with the final counts. At most once per finish.
    The job row is locked first, so the check below (a new statement, a new snapshot)
    sees every chunk committed by whoever held it before: the last to settle sees all."""
    now = timezone.now()
    list(Job.objects.select_for_update().filter(pk=job_id).values_list("pk"))
    running = Chunk.objects.filter(job_id=OuterRef("pk"), status=ChunkStatus.PENDING)
    updated = (
        Job.objects.filter(pk=job_id, status__in=FINISHED_STATUSES, finished_at__isnull=True)
        .exclude(Exists(running))
        .update(finished_at=now, updated_at=now)
    )
    if updated:
        _flush_commit()  # its webhook and final event must not announce a lost commit
        transaction.on_commit(lambda: _after_finish(job_id))
    return bool(updated)


def _stop_pending_chunks(job_id: str) -> None:
    # SKIP LOCKED: a chunk running right now commits on its own; the rest never run.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE jobs_chunk SET status = 'cancelled'
            WHERE id IN (SELECT id FROM jobs_chunk WHERE job_id = %s AND status = 'pending'
                         FOR UPDATE SKIP LOCKED)
            """,
            [job_id],
        )


def _after_finish(job_id: str) -> None:
    from jobs import webhooks
    from jobs.tasks import deliver_webhook

    job = Job.objects.get(pk=job_id)
    progress.publish(job)
    if webhooks.wants_event(job):
        deliver_webhook.apply_async(args=(job_id, webhooks.event_name(job), 1))


def _insert_errors(*, job_id: str, chunk_id: int | None, errors: Iterable[RowError]) -> None:
    rows = [
        JobError(
            job_id=job_id,
            chunk_id=chunk_id,
            row=e.row,
            index=e.index,
            field=e.field,
            code=e.code,
            message=e.message,
            values=e.values,
        )
        for e in errors
    ]
    JobError.objects.bulk_create(rows, batch_size=ERROR_INSERT_BATCH)


# --- dispatch and recovery -------------------------------------------------------------


def _send_on_commit(chunks: list[tuple[int, str, int]]) -> None:
    if chunks:
        transaction.on_commit(lambda: send_chunk_tasks(chunks))


def send_chunk_tasks(chunks: Iterable[tuple[int, str, int]]) -> None:
    """Publish one task per (chunk id, job id, seq). The database, not this message,
    says whether the chunk still has to run, so sending twice is harmless."""
    from jobs.tasks import run_chunk

    # One producer (and broker channel) for the lot: acquiring one per message was a
    # third of the ~0.8 ms of web CPU each send took.
    with run_chunk.app.producer_or_acquire() as producer:
        for chunk_id, job_id, seq in chunks:
            run_chunk.apply_async(
                args=(chunk_id,), task_id=chunk_task_id(job_id, seq), producer=producer
            )


# Chunks per check task: a check is cheap next to its task's own cost.
CHECK_BATCH = 16


def send_check_tasks(chunks: Iterable[tuple[int, str, int]]) -> None:
    """Publish check tasks for (chunk id, job id, seq): up to CHECK_BATCH chunks of one
    job each, named after the first. Sending twice is harmless."""
    from jobs.tasks import check_chunks

    by_job: dict[str, list[tuple[int, int]]] = {}
    for chunk_id, job_id, seq in chunks:
        by_job.setdefault(job_id, []).append((seq, chunk_id))
    with check_chunks.app.producer_or_acquire() as producer:
        for job_id, members in by_job.items():
            members.sort()
            for start in range(0, len(members), CHECK_BATCH):
                batch = members[start : start + CHECK_BATCH]
                check_chunks.apply_async(
                    args=([chunk_id for _, chunk_id in batch],),
                    task_id=f"{chunk_task_id(job_id, batch[0][0])}.check",
                    producer=producer,
                )


@transaction.atomic
def job_rerun_failed_chunks(*, job: Job) -> int:
    """Put a job's failed chunks back to pending (their counters and error rows undone)
    and dispatch them; a failed or completed job goes back to processing. Returns how
    many chunks were re-queued. A cancelled job raises Conflict."""
    locked = Job.objects.select_for_update().get(pk=job.pk)
    if locked.status == JobStatus.CANCELLED:
        raise Conflict(f"Job {job.id} was cancelled")
    failed = list(Chunk.objects.select_for_update().filter(job=locked, status=ChunkStatus.FAILED))
    if not failed:
        return 0
    now = timezone.now()
    JobError.objects.filter(chunk__in=failed).delete()
    for chunk in failed:
        Job.objects.filter(pk=locked.pk).update(
            processed=F("processed") - chunk.successful - chunk.failed - chunk.skipped,
            successful=F("successful") - chunk.successful,
            failed=F("failed") - chunk.failed,
            skipped=F("skipped") - chunk.skipped,
            chunks_finished=F("chunks_finished") - 1,
        )
    Chunk.objects.filter(pk__in=[c.pk for c in failed]).update(
        status=ChunkStatus.PENDING,
        successful=0,
        failed=0,
        skipped=0,
        attempts=0,
        error="",
        finished_at=None,
        dispatched_at=now,
    )
    Job.objects.filter(pk=locked.pk).update(
        status=JobStatus.PROCESSING, finished_at=None, message="", updated_at=now
    )
    _send_on_commit([(c.pk, locked.id, c.seq) for c in failed])
    return len(failed)


def job_fail_interrupted(*, job_id: str, stale_before: datetime) -> bool:
    """Fail a job that was never started and has not changed since `stale_before`: the
    web process filling it (an upload) died. None of its chunks ever ran; their stored
    input is dropped. True if this call failed it."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.sealed or job.status not in ACTIVE_STATUSES:
            return False
        if job.updated_at >= stale_before:
            return False
        job_fail(job=job, message="The upload was interrupted; nothing was written")
        Chunk.objects.filter(job_id=job_id).update(payload_text=None, payload=None)
    return True


def job_settle_abandoned(*, job_id: str, stale_before: datetime) -> bool:
    """Settle a finished job still waiting on chunks whose worker vanished (no attempt
    since `stale_before`): they never commit, so they are cancelled. True if settled."""
    with transaction.atomic():
        list(Job.objects.select_for_update().filter(pk=job_id).values_list("pk"))
        with connection.cursor() as cursor:
            # SKIP LOCKED: a chunk still held by a live worker will settle the job itself.
            cursor.execute(
                """
                UPDATE jobs_chunk SET status = 'cancelled'
                WHERE id IN (SELECT id FROM jobs_chunk
                             WHERE job_id = %s AND status = 'pending'
                               AND (last_attempt_at IS NULL OR last_attempt_at < %s)
                             FOR UPDATE SKIP LOCKED)
                """,
                [job_id, stale_before],
            )
        return _settle(job_id)


def webhook_secret_rotate(*, tenant: ApiClient) -> str:
    """Give the tenant a new signing secret; deliveries from now on use it."""
    tenant.webhook_secret = new_webhook_secret()
    tenant.save(update_fields=["webhook_secret"])
    return tenant.webhook_secret
