"""Running window messages: apply a job's chunks exactly once, with its handler.

One chunk is one transaction: claim (jobs.engine.claims), the handler's writes, its row
errors, the done mark that frees the message's slot, and the job's counters, committed
together. What can go wrong, and what it means:
- an infrastructure failure (PostgreSQL restarting, a dropped connection) rolls the
  chunk back and pauses: the worker waits for the database and runs it again
  (jobs.engine.infra.ride_out); the chunk is never failed for it;
- a handler exception (a code or data error) is retried PCF_CHUNK_MAX_RETRIES times,
  then the chunk is recorded `failed` with a reference id, details in the log only;
- a chunk that keeps killing its worker (attempts stamped at each start pass
  PCF_CHUNK_MAX_ATTEMPTS) is recorded `failed` as poison."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import transaction

from jobs.engine import checks, claims, dispatch, infra, ledger
from jobs.handlers import ChunkOutcome, get_chunk_handler, get_group_handler
from jobs.models import ACTIVE_STATUSES, Chunk, DispatchKind, JobStatus
from jobs.task_results import TaskRecord, record_skip
from pcf import logcontext, metrics
from pcf.db import commit_durably
from pcf.errors import new_reference

logger = logging.getLogger("pcf.jobs")


def run_dispatch(dispatch_id: int, *, record: TaskRecord | None = None) -> str:
    """Run one window message to its end and refill the window; return what happened.
    Infrastructure failures are ridden out (see the module docstring)."""
    outcome = infra.ride_out(
        lambda first: _run_started(dispatch_id, first, record), what=f"message {dispatch_id}"
    )
    dispatch.refill_after_commit()
    return outcome


def _run_started(dispatch_id: int, first: bool, record: TaskRecord | None) -> str:
    started = claims.start(dispatch_id, count_attempt=first)
    if started is None:
        return record_skip(record, "skipped: finished already, or running elsewhere")
    # Every log line of this message names its job, tenant, chunk(s) and attempt.
    with logcontext.bind(job_id=started.job_id, tenant=started.tenant_id, **_chunks_of(started)):
        try:
            return _run_chunks(started, record)
        finally:
            claims.release(dispatch_id)


def _chunks_of(started: claims.Started) -> dict[str, object]:
    """The log fields of a message's chunks: one seq, or the span of seqs it carries."""
    if not started.seqs:
        return {}
    first, last = started.seqs[0], started.seqs[-1]
    return {
        "chunk_seq": first if first == last else f"{first}-{last}",
        "attempt": max(started.attempts),
    }


def _run_chunks(started: claims.Started, record: TaskRecord | None) -> str:
    if not started.chunk_ids:
        with transaction.atomic():
            ledger.free_idle_dispatches(started.job_id)
        return record_skip(record, "skipped: no chunk of it is pending")
    if started.kind == DispatchKind.CHECK:
        return checks.chunks_check(chunk_ids=started.chunk_ids, record=record)
    if len(started.chunk_ids) > 1:
        together = group_run(chunk_ids=started.chunk_ids, record=record)
        if together is not None:
            return together
    done = []
    for chunk_id, seq, attempt in zip(
        started.chunk_ids, started.seqs, started.attempts, strict=True
    ):
        with logcontext.bind(chunk_seq=seq, attempt=attempt):
            done.append(chunk_run(chunk_id=chunk_id, record=record))
    return "; ".join(done)


def chunk_run(*, chunk_id: int, record: TaskRecord | None = None) -> str:
    """Apply one chunk exactly once; return what happened. A handler exception is
    retried, then recorded as the chunk's failure; infrastructure failures propagate
    (to be ridden out by the caller)."""
    retries = int(settings.PCF_CHUNK_MAX_RETRIES)
    for retry in range(retries + 1):
        try:
            return _apply(chunk_id, record)
        except Exception as exc:
            if infra.is_infrastructure_error(exc):
                raise
            if retry < retries:
                logger.warning(
                    "chunk %s raised %r; retry %s of %s", chunk_id, exc, retry + 1, retries
                )
                time.sleep(min(2.0**retry, 30.0))
                continue
            reference = new_reference()
            logger.exception("chunk %s failed; reference %s", chunk_id, reference)
            return record_failure(chunk_id, f"internal error (reference {reference})", record)
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns


def group_run(*, chunk_ids: Sequence[int], record: TaskRecord | None = None) -> str | None:
    """Apply a message's chunks together, with the job kind's group handler, in one
    transaction; None (nothing written) when there is none, when the chunks are not all
    pending and ready, or when the handler declines or raises: the caller then applies
    them one by one, with their own retries and failures. Infrastructure failures
    propagate."""
    try:
        with transaction.atomic():
            chunks = claims.claim(chunk_ids)
            if len(chunks) != len(chunk_ids):
                raise _NotTogether
            job = chunks[0].job
            handler = get_group_handler(job.handler_name)
            ready = job.sealed and not job.chunks_unchecked and not job.check_failed
            poison = any(c.attempts > int(settings.PCF_CHUNK_MAX_ATTEMPTS) for c in chunks)
            if handler is None or job.status not in ACTIVE_STATUSES or not ready or poison:
                raise _NotTogether
            started = time.monotonic()
            outcomes = handler(job, chunks)
            if outcomes is None or len(outcomes) != len(chunks):
                raise _NotTogether
            for chunk, outcome in zip(chunks, outcomes, strict=True):
                ledger.check_outcome(chunk, outcome)
                ledger.insert_errors(job_id=job.id, chunk_id=chunk.pk, errors=outcome.errors)
            duration_ms = int((time.monotonic() - started) * 1000)
            _time_after_commit(started, len(chunks))
            counters = ledger.complete_chunks(chunks, outcomes, duration_ms, record)
            fail_job = next((o.fail_job for o in outcomes if o.fail_job), None)
            if fail_job or counters.all_chunks_finished:
                commit_durably()  # as in _apply: the finishing commit flushes
            if fail_job:
                ledger.finish(job.id, JobStatus.FAILED, fail_job)
            elif counters.all_chunks_finished:
                ledger.finish_if_complete(job.id)
    except _NotTogether:
        return None
    except Exception as exc:
        if infra.is_infrastructure_error(exc):
            raise
        logger.info("chunks %s could not go together (%r); one by one", list(chunk_ids), exc)
        return None
    done = sum(o.successful for o in outcomes)
    return f"done together: {len(chunks)} chunks, {done} ok"


class _NotTogether(Exception):
    """The chunks go one by one (rolls the shared transaction back)."""


def record_failure(chunk_id: int, message: str, record: TaskRecord | None = None) -> str:
    """Record that a pending chunk could not be applied (its writes were rolled back);
    a chunk of a finished job is dropped instead."""
    with transaction.atomic():
        claimed = claims.claim([chunk_id])
        if not claimed:
            return record_skip(record, "skipped: not pending, or running elsewhere")
        chunk = claimed[0]
        record = record.for_task(chunk.task_id) if record is not None else None
        if chunk.job.status not in ACTIVE_STATUSES:
            ledger.drop_chunk(chunk)
            return record_skip(record, f"skipped: job {chunk.job.status}")
        ledger.record_failure(chunk, message)
        return record_skip(record, f"failed: {message}")


def _apply(chunk_id: int, record: TaskRecord | None) -> str:
    with transaction.atomic():
        claimed = claims.claim([chunk_id])
        if not claimed:
            return record_skip(record, "skipped: not pending, or running elsewhere")
        chunk = claimed[0]
        job = chunk.job
        # A message may carry several chunks: each records its outcome under its own id.
        record = record.for_task(chunk.task_id) if record is not None else None
        if job.status not in ACTIVE_STATUSES:
            ledger.drop_chunk(chunk)
            return record_skip(record, f"skipped: job {job.status}")
        if not job.sealed or job.chunks_unchecked or job.check_failed:
            # A stray message: nothing applies before the job is sealed and its check
            # pass passed; the chunk stays ready for the dispatcher.
            Chunk.objects.filter(pk=chunk.pk).update(dispatch=None)
            ledger.free_idle_dispatches(job.id)
            return record_skip(record, "skipped: the job is not ready to apply it")
        if chunk.attempts > int(settings.PCF_CHUNK_MAX_ATTEMPTS):
            ledger.record_failure(chunk, f"gave up after {chunk.attempts - 1} attempts")
            return record_skip(record, "failed: too many attempts")
        handler = _handler(job.handler_name)
        started = time.monotonic()
        outcome = handler(job, chunk)
        ledger.check_outcome(chunk, outcome)
        ledger.insert_errors(job_id=job.id, chunk_id=chunk.pk, errors=outcome.errors)
        message = (
            f"done: {outcome.successful} ok, {outcome.failed} failed, {outcome.skipped} skipped"
        )
        duration_ms = int((time.monotonic() - started) * 1000)
        _time_after_commit(started, 1)
        counters = ledger.complete_chunk(chunk, outcome, duration_ms, record, message)
        if outcome.fail_job or counters.all_chunks_finished:
            # Chunk messages commit without waiting for the WAL flush (jobs.tasks): a
            # PostgreSQL crash loses a chunk's rows and its done mark together, and it
            # runs again. The commit that finishes the job does flush: its webhook must
            # not announce what a crash could take back, and that flush covers every
            # earlier commit.
            commit_durably()
        if outcome.fail_job:
            ledger.finish(job.id, JobStatus.FAILED, outcome.fail_job)
        elif counters.all_chunks_finished:
            ledger.finish_if_complete(job.id)
    return message


def _time_after_commit(started: float, chunks: int) -> None:
    """Observe the chunks' duration (handler to commit) once committed; chunks applied
    together share their transaction's time equally."""

    def observe() -> None:
        each = (time.monotonic() - started) / chunks
        for _ in range(chunks):
            metrics.CHUNK_DURATION.observe(each)

    transaction.on_commit(observe, robust=True)


def _handler(name: str) -> Callable[..., ChunkOutcome]:
    handler = get_chunk_handler(name)
    if handler is None:
        raise LookupError(f"No chunk handler registered for {name!r}")
    return handler
