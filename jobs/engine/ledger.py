"""The ledger: a job's counters, finishing a job exactly once, and settling it.

Finishing exactly once: the last chunk to commit sees, under the job row's lock (taken
by its counter UPDATE), that all chunks of a sealed job are finished, and moves the job
out of `processing` with a conditional UPDATE; only one transaction can.

Settling: a job cancelled (or failed) while a chunk runs is `cancelled` at once, and
that chunk still commits and is counted. `finished_at`, the final progress event and
the webhook (an outbox row, written in the settling transaction) wait until no chunk of
the job is pending any more, so they carry the final counts; the summary is derived
from the counters whenever read."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from jobs import progress
from jobs.engine import outbox
from jobs.handlers import ChunkOutcome, RowError, settled_hook, wording_of
from jobs.models import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    Chunk,
    ChunkStatus,
    Job,
    JobError,
    JobStatus,
)
from jobs.task_results import TaskRecord
from pcf import metrics
from pcf.db import commit_durably

logger = logging.getLogger("pcf.jobs")

# Row errors are written in slices: one INSERT per 1,000 errors keeps big lenient
# imports from building one huge statement.
ERROR_INSERT_BATCH = 1000


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
    chunks_finished = chunks_finished + %s,
    status = CASE WHEN status = 'queued' THEN 'processing' ELSE status END,
    started_at = COALESCE(started_at, %s), updated_at = %s
WHERE id = %s
RETURNING status, sealed, chunks_total, chunks_finished, total, processed,
    successful, failed, skipped
"""


def count_chunk(
    job_id: str,
    successful: int,
    failed: int,
    skipped: int = 0,
    *,
    chunks: int = 1,
    also: Sequence[tuple[str, list[Any]]] = (),
) -> Counters:
    """Add finished chunks (one, or `chunks` applied together) to the job's counters
    (locks the job row until commit) and announce the new counts once committed; one
    round trip, which also runs the data-modifying statements `also` (as WITH queries).
    A chunk that commits after its job was cancelled or failed is counted too, and may
    settle the job."""
    now = timezone.now()
    prelude = ", ".join(f"also_{i} AS ({sql})" for i, (sql, _) in enumerate(also))
    params = [p for _, statement_params in also for p in statement_params]
    sql = f"{'WITH ' + prelude if prelude else ''} {_COUNT_SQL}"
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *params,
                *(successful + failed + skipped, successful, failed, skipped, chunks),
                *(now, now, job_id),
            ],
        )
        counters = Counters(*cursor.fetchone())
    transaction.on_commit(lambda: _count_rows(successful, failed, skipped), robust=True)
    if counters.status in ACTIVE_STATUSES:
        if not counters.all_chunks_finished:
            # A finishing job announces itself when it settles instead.
            transaction.on_commit(lambda: progress.publish_counts(job_id, counters))
    elif not settle(job_id):
        # Still waiting on another running chunk: announce the counts so far.
        transaction.on_commit(lambda: progress.publish_counts(job_id, counters))
    return counters


def _count_rows(successful: int, failed: int, skipped: int) -> None:
    for outcome, rows in (("successful", successful), ("failed", failed), ("skipped", skipped)):
        if rows:
            metrics.ROWS.labels(outcome=outcome).inc(rows)


# The done mark frees the chunk's input (retention: a done chunk keeps no payload) and
# its window slot: the message's row goes once none of its chunks is pending.
_CHUNK_DONE_SQL = """
UPDATE jobs_chunk SET status = 'done', successful = %s, failed = %s, skipped = %s,
    result = %s::jsonb, finished_at = %s, duration_ms = %s,
    payload = NULL, payload_text = NULL, dispatch_id = NULL
WHERE id = %s
"""

_DISPATCH_DONE_SQL = """
DELETE FROM jobs_dispatch WHERE id = %s AND NOT EXISTS (
    SELECT 1 FROM jobs_chunk WHERE dispatch_id = %s AND status = 'pending' AND id <> ALL(%s)
)
"""


def dispatch_done(dispatch_id: int | None, finishing: Sequence[int]) -> list[tuple[str, list[Any]]]:
    """The statement (for `also`) that frees a message's window slot once its chunks,
    `finishing` ones included, are no longer pending."""
    if dispatch_id is None:
        return []
    return [(_DISPATCH_DONE_SQL, [dispatch_id, dispatch_id, list(finishing)])]


def complete_chunk(
    chunk: Chunk,
    outcome: ChunkOutcome,
    duration_ms: int,
    record: TaskRecord | None,
    message: str,
) -> Counters:
    """Mark the chunk done, free its message's slot, count it in its job and record the
    task's result: one statement, in the chunk's transaction."""
    result = None
    if outcome.results is not None or outcome.meta is not None:
        result = json.dumps({"results": outcome.results or [], "meta": outcome.meta or {}})
    now = timezone.now()
    done = [outcome.successful, outcome.failed, outcome.skipped, result, now, duration_ms]
    also = [(_CHUNK_DONE_SQL, [*done, chunk.pk]), *dispatch_done(chunk.dispatch_id, [chunk.pk])]
    if record is not None:
        also.append(record.upsert(message, now))
    return count_chunk(chunk.job_id, outcome.successful, outcome.failed, outcome.skipped, also=also)


_CHUNKS_DONE_SQL = """
UPDATE jobs_chunk c SET status = 'done', successful = d.successful, failed = d.failed,
    skipped = d.skipped, result = d.result, finished_at = %s, duration_ms = %s,
    payload = NULL, payload_text = NULL, dispatch_id = NULL
FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::int[], %s::jsonb[])
    AS d(id, successful, failed, skipped, result)
WHERE c.id = d.id
"""


def complete_chunks(
    chunks: Sequence[Chunk],
    outcomes: Sequence[ChunkOutcome],
    duration_ms: int,
    record: TaskRecord | None,
) -> Counters:
    """complete_chunk for chunks applied together in one transaction (one handler call
    for a whole window message): every done mark, the counters and the task results in
    one statement."""
    now = timezone.now()
    results = [
        None
        if o.results is None and o.meta is None
        else json.dumps({"results": o.results or [], "meta": o.meta or {}})
        for o in outcomes
    ]
    done = [
        now,
        duration_ms,
        [c.pk for c in chunks],
        [o.successful for o in outcomes],
        [o.failed for o in outcomes],
        [o.skipped for o in outcomes],
        results,
    ]
    also = [(_CHUNKS_DONE_SQL, done)]
    dispatch_ids = {c.dispatch_id for c in chunks if c.dispatch_id is not None}
    for dispatch_id in dispatch_ids:
        also += dispatch_done(dispatch_id, [c.pk for c in chunks])
    if record is not None:
        for chunk, outcome in zip(chunks, outcomes, strict=True):
            message = (
                f"done: {outcome.successful} ok, {outcome.failed} failed, {outcome.skipped} skipped"
            )
            also.append(record.for_task(chunk.task_id).upsert(message, now))
    return count_chunk(
        chunks[0].job_id,
        sum(o.successful for o in outcomes),
        sum(o.failed for o in outcomes),
        sum(o.skipped for o in outcomes),
        chunks=len(chunks),
        also=also,
    )


def check_outcome(chunk: Chunk, outcome: ChunkOutcome) -> None:
    if min(outcome.successful, outcome.failed, outcome.skipped) < 0:
        raise ValueError(f"chunk handler returned negative counts for {chunk}")


def record_failure(chunk: Chunk, message: str) -> None:
    """All the chunk's units count as failed (its writes were rolled back), one INTERNAL
    error row says why, and the job ends `failed` once its other chunks are finished.
    The chunk keeps its input, so an operator can re-run it."""
    wording = wording_of(chunk.job.handler_name)
    span = wording.span(chunk.row_offset + 1, chunk.row_offset + max(chunk.row_count, 1))
    text = f"Chunk {chunk.seq} ({span}) failed: {message}"
    JobError.objects.create(
        job_id=chunk.job_id, chunk=chunk, field="", code="INTERNAL", message=text
    )
    now = timezone.now()
    also = [
        (
            "UPDATE jobs_chunk SET status = 'failed', successful = 0, failed = %s, error = %s,"
            " finished_at = %s, dispatch_id = NULL WHERE id = %s",
            [chunk.row_count, message[:2000], now, chunk.pk],
        ),
        *dispatch_done(chunk.dispatch_id, [chunk.pk]),
    ]
    transaction.on_commit(lambda: metrics.CHUNKS_FAILED.labels(kind="apply").inc(), robust=True)
    if count_chunk(chunk.job_id, 0, chunk.row_count, also=also).all_chunks_finished:
        finish_if_complete(chunk.job_id)


def drop_chunk(chunk: Chunk) -> None:
    """A pending chunk of a finished job never runs; it may be the last one the job
    was waiting for (taken by a worker as the job was cancelled)."""
    Chunk.objects.filter(pk=chunk.pk).update(
        status=ChunkStatus.CANCELLED, payload=None, payload_text=None, dispatch=None
    )
    free_idle_dispatches(chunk.job_id)
    settle(chunk.job_id)


def free_idle_dispatches(job_id: str) -> None:
    """Delete the job's window messages none of whose chunks is pending any more.
    SKIP LOCKED: a worker starting a message locks its row, then its chunks, while a
    cancel has locked chunks first; waiting here deadlocked the two (a 500 on cancel).
    A skipped message is freed by its starter (it finds no pending chunk) or the sweeper."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM jobs_dispatch WHERE id IN (
                SELECT d.id FROM jobs_dispatch d WHERE d.job_id = %s AND NOT EXISTS (
                    SELECT 1 FROM jobs_chunk c
                    WHERE c.dispatch_id = d.id AND c.status = 'pending'
                )
                FOR UPDATE SKIP LOCKED
            )
            """,
            [job_id],
        )


def finish_if_complete(job_id: str) -> bool:
    """Finish a sealed job whose chunks are all finished; True if this call did."""
    job = Job.objects.select_for_update().get(pk=job_id)
    if not job.sealed or job.chunks_finished < job.chunks_total:
        return False
    if job.status not in ACTIVE_STATUSES:
        return False
    failed_chunks = Chunk.objects.filter(job_id=job_id, status=ChunkStatus.FAILED).count()
    if failed_chunks:
        return finish(job_id, JobStatus.FAILED, f"{failed_chunks} chunk(s) could not be applied")
    return finish(job_id, JobStatus.COMPLETED, "")


def finish(job_id: str, status: str, message: str) -> bool:
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
    transaction.on_commit(
        lambda: metrics.JOBS.labels(type=job.type, status=status).inc(), robust=True
    )
    commit_durably()  # what a finished job announces must survive a PostgreSQL crash
    stop_pending_chunks(job_id)
    settle(job_id)
    return True


def settle(job_id: str) -> bool:
    """Stamp `finished_at` on a finished job once none of its chunks is pending (i.e.
    running: stop_pending_chunks cancelled the others), write its webhook to the outbox
    and announce it after commit, with the final counts. At most once per finish.
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
    if not updated:
        return False
    commit_durably()  # its webhook and final event must not announce a lost commit
    job = Job.objects.select_related("tenant").get(pk=job_id)
    message = outbox.enqueue(job)
    transaction.on_commit(lambda: progress.publish(job))
    transaction.on_commit(lambda: _after_settled(job))
    if message is not None:
        transaction.on_commit(lambda: outbox.send_now([message.pk]))
    return True


def _after_settled(job: Job) -> None:
    hook = settled_hook(job.handler_name) or settled_hook(job.type)
    if hook is None:
        return
    try:
        hook(job)
    except Exception:  # follow-up work never fails a settled job
        logger.exception("after-settle hook of %s failed", job.id)


def stop_pending_chunks(job_id: str) -> None:
    # SKIP LOCKED: a chunk running right now commits on its own; the rest never run, and
    # their input is dropped (retention).
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE jobs_chunk SET status = 'cancelled', payload = NULL, payload_text = NULL,
                dispatch_id = NULL
            WHERE id IN (SELECT id FROM jobs_chunk WHERE job_id = %s AND status = 'pending'
                         FOR UPDATE SKIP LOCKED)
            """,
            [job_id],
        )
    free_idle_dispatches(job_id)


def insert_errors(*, job_id: str, chunk_id: int | None, errors: Iterable[RowError]) -> None:
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
