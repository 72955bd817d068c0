"""The check pass: chunks staged for checking (a strict import) are checked by the job
kind's check handler, which writes nothing but its verdict. No chunk is applied while
the pass is on; the last check of a sealed job (or sealing the job, if the checks
finished first) decides under the job row's lock: fail the job with nothing written,
or make every chunk ready to apply."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from jobs.engine import claims, dispatch, infra, ledger
from jobs.handlers import RowError, check_verdict, get_check_handler
from jobs.models import ACTIVE_STATUSES, Chunk, ChunkStatus, Job, JobError, JobStatus
from jobs.task_results import TaskRecord, record_skip
from pcf import metrics
from pcf.db import commit_durably
from pcf.errors import new_reference

logger = logging.getLogger("pcf.jobs")

# A failed check pass keeps this many row errors (its counters cover all of them): a
# million bad rows must not become a million error rows.
CHECK_ERRORS_KEPT = 10_000


def chunks_check(*, chunk_ids: Sequence[int], record: TaskRecord | None = None) -> str:
    """Check staged chunks of one job; a handler exception is retried, then fails the
    job (its verdict can never be complete). Infrastructure failures propagate."""
    retries = int(settings.PCF_CHUNK_MAX_RETRIES)
    for retry in range(retries + 1):
        try:
            return _check(chunk_ids, record)
        except Exception as exc:
            if infra.is_infrastructure_error(exc):
                raise
            if retry < retries:
                logger.warning("check of %s raised %r; retry %s", list(chunk_ids), exc, retry + 1)
                time.sleep(min(2.0**retry, 30.0))
                continue
            reference = new_reference()
            logger.exception("check of chunks %s failed; reference %s", list(chunk_ids), reference)
            check_record_failure(
                chunk_ids=chunk_ids, message=f"internal error (reference {reference})"
            )
            return record_skip(record, f"failed: internal error (reference {reference})")
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns


def _check(chunk_ids: Sequence[int], record: TaskRecord | None) -> str:
    """Count the chunks' invalid units, keep their errors and memos, in one transaction;
    the last check of a sealed job decides."""
    with transaction.atomic():
        chunks = claims.claim(chunk_ids, unchecked=True)
        if not chunks:
            return record_skip(record, "skipped: checked already, or being checked elsewhere")
        job = chunks[0].job
        if any(c.job_id != job.id for c in chunks):
            raise ValueError("chunks of one check message must belong to one job")
        if job.status not in ACTIVE_STATUSES:
            _drop_checks(job.id, chunks)
            return record_skip(record, f"skipped: job {job.status}")
        if max(c.attempts for c in chunks) > int(settings.PCF_CHUNK_MAX_ATTEMPTS):
            message = "gave up after repeated attempts that ended the worker"
            _fail_check(chunks[0], message)
            return record_skip(record, f"failed: {message}")
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
                    SET checked = TRUE, dispatch_id = NULL, attempts = 0,
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
        ledger.free_idle_dispatches(job.id)
        message = f"checked {len(chunks)} chunk(s): {invalid} invalid unit(s)"
        record_skip(record, message)  # the task's result row, in this transaction
        if status not in ACTIVE_STATUSES:
            # Cancelled or failed while this check held its chunks (so finishing could
            # not stop them): they will never be applied; the job may settle now.
            _drop_checks(job.id, chunks)
            return message
        ledger.insert_errors(job_id=job.id, chunk_id=None, errors=kept)
        if sealed and unchecked == 0:
            after_checks(job.id)
    return message


def after_checks(job_id: str) -> None:
    """The sealed job has no chunk left to check: fail it if a check found invalid units
    (nothing was applied), or make its chunks ready to apply (the window takes them
    after this commits)."""
    job = Job.objects.select_for_update().get(pk=job_id)
    if job.status not in ACTIVE_STATUSES or job.chunks_unchecked:
        return
    if job.check_failed:
        invalid = min(job.check_failed, job.total)
        # Every unit is accounted for: the invalid ones failed, the valid ones skipped.
        Job.objects.filter(pk=job_id).update(
            processed=job.total, failed=invalid, skipped=job.total - invalid
        )
        ledger.finish(job_id, JobStatus.FAILED, check_verdict(job.handler_name, invalid, job.total))
        return
    commit_durably()  # the verdict: every chunk is about to be applied
    dispatch.refill_after_commit()


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
        return _fail_check(chunk, message)


def _fail_check(chunk: Chunk, message: str) -> bool:
    text = f"Checking chunk {chunk.seq} failed: {message}"
    transaction.on_commit(lambda: metrics.CHUNKS_FAILED.labels(kind="check").inc(), robust=True)
    JobError.objects.create(
        job_id=chunk.job_id, chunk=chunk, field="", code="INTERNAL", message=text
    )
    return ledger.finish(chunk.job_id, JobStatus.FAILED, text)


def _drop_checks(job_id: str, chunks: Sequence[Chunk]) -> None:
    Chunk.objects.filter(pk__in=[c.pk for c in chunks], status=ChunkStatus.PENDING).update(
        status=ChunkStatus.CANCELLED, payload=None, payload_text=None, dispatch=None
    )
    ledger.free_idle_dispatches(job_id)
    ledger.settle(job_id)


def _error_room(job: Job) -> int:
    """How many more row errors a check pass may keep for this job."""
    if job.check_failed >= CHECK_ERRORS_KEPT:
        return 0
    return max(0, CHECK_ERRORS_KEPT - JobError.objects.filter(job_id=job.id).count())
