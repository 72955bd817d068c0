"""Chunk handlers for the engine's tests, registered under `test.*` names (a job keeps
one of the contract's types and picks one of these with `handler=`).

Imported by test worker processes through PCF_EXTRA_HANDLER_MODULES (see
tests/worker_fixtures.py) and by the test process itself."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.db import OperationalError

from jobs.engine import lifecycle
from jobs.handlers import (
    CheckOutcome,
    ChunkOutcome,
    RowError,
    register_check_handler,
    register_chunk_handler,
)
from pcf.redis import redis_client
from resources.parsing import parse_create
from resources.services import resources_insert_many

if TYPE_CHECKING:
    from jobs.models import Chunk, Job


def written_key(job_id: str, seq: int) -> str:
    # Job ids are random: a key left by an earlier run never matches (chunk pks repeat).
    return f"pcf:test:chunk-written:{job_id}:{seq}"


def release_key(job_id: str, seq: int) -> str:
    return f"pcf:test:chunk-release:{job_id}:{seq}"


def release(job_id: str, seq: int) -> None:
    """Let a chunk of payload {"hold": true} commit (this run and any later one)."""
    redis_client().set(release_key(job_id, seq), 1, ex=300)


@register_chunk_handler("test.rows")
def create_rows(job: Job, chunk: Chunk) -> ChunkOutcome:
    """Payload {"names": [...], "sleep": s, "hold": bool}: one resource per name; names
    starting with "bad" are row errors. After writing (`written_key`) it sleeps s
    seconds, and with "hold" it waits until the test calls `release`: its transaction
    stays open, so a test can kill a worker or cancel the job mid-chunk, however slowly
    it gets there."""
    payload = chunk.payload or {}
    specs, errors = [], []
    for position, name in enumerate(payload["names"]):
        row = chunk.row_offset + position + 1
        if name.startswith("bad"):
            errors.append(RowError(field="name", message="bad name", row=row, values=[name]))
        else:
            specs.append(parse_create({"name": name, "type": "document"}))
    resources_insert_many(tenant=job.tenant, specs=specs)
    redis_client().set(written_key(job.id, chunk.seq), "1", ex=300)
    if payload.get("hold"):
        _wait_for_counter(release_key(job.id, chunk.seq), above=0)
    time.sleep(float(payload.get("sleep", 0)))
    return ChunkOutcome(
        successful=len(specs),
        failed=len(errors),
        errors=errors,
        results=[{"name": s.name} for s in specs],
        meta={"successful": len(specs), "failed": len(errors)},
        fail_job=payload.get("fail_job"),
    )


def runs_key(job_id: str, seq: int) -> str:
    return f"pcf:test:chunk-runs:{job_id}:{seq}"


def _rows_together(job: Job, chunks: list[Chunk]) -> list[ChunkOutcome] | None:
    """test.grouped's group handler: every chunk's names in one insert. Declines when a
    payload says so; raises (after writing) when a name is "explode"."""
    if any((c.payload or {}).get("decline") for c in chunks):
        return None
    specs = [
        parse_create({"name": name, "type": "document"})
        for c in chunks
        for name in (c.payload or {})["names"]
    ]
    resources_insert_many(tenant=job.tenant, specs=specs)
    if any(s.name == "explode" for s in specs):
        raise ValueError("explode (test)")
    redis_client().incr(f"pcf:test:together:{job.id}")
    redis_client().expire(f"pcf:test:together:{job.id}", 300)
    return [ChunkOutcome(successful=len((c.payload or {})["names"]), failed=0) for c in chunks]


@register_chunk_handler("test.grouped", group=_rows_together)
def grouped_one(job: Job, chunk: Chunk) -> ChunkOutcome:
    """test.grouped one chunk at a time: its names, one insert."""
    names = [n for n in (chunk.payload or {})["names"] if n != "explode"]
    resources_insert_many(
        tenant=job.tenant, specs=[parse_create({"name": n, "type": "document"}) for n in names]
    )
    return ChunkOutcome(successful=len(names), failed=0)


@register_chunk_handler("test.flaky")
def flaky(job: Job, chunk: Chunk) -> ChunkOutcome:
    """Raises on its first `fail_times` runs (counted in Redis, since the engine does
    not count infrastructure failures as attempts): a database error like a dropped
    connection (`"error": "database"`, the default) or a code error (`"code"`)."""
    payload = chunk.payload or {}
    runs = redis_client().incr(runs_key(job.id, chunk.seq))
    redis_client().expire(runs_key(job.id, chunk.seq), 300)
    if runs <= int(payload.get("fail_times", 1)):
        if payload.get("error", "database") == "code":
            raise KeyError("secret-internal-detail (test)")
        raise OperationalError("server closed the connection unexpectedly (test)")
    return ChunkOutcome(successful=chunk.row_count, failed=0)


@register_chunk_handler("test.noop")
def noop(job: Job, chunk: Chunk) -> ChunkOutcome:
    return ChunkOutcome(successful=chunk.row_count, failed=0)


@register_chunk_handler("test.broken")
def broken(job: Job, chunk: Chunk) -> ChunkOutcome:
    """A handler bug: not a transient error, so the chunk fails at once."""
    raise ValueError("broken handler (test)")


@register_check_handler("test.lines")
def check_lines(job: Job, chunk: Chunk) -> CheckOutcome:
    """payload_text: one name per line; names starting with "bad" are invalid rows.
    Remembers how many lines it saw (the memo the apply pass reads)."""
    names = (chunk.payload_text or "").splitlines()
    errors = [
        RowError(field="name", message="bad name", row=chunk.row_offset + i + 1, values=[n])
        for i, n in enumerate(names)
        if n.startswith("bad")
    ]
    return CheckOutcome(invalid=len(errors), errors=errors, memo={"lines": len(names)})


@register_chunk_handler("test.lines")
def apply_lines(job: Job, chunk: Chunk) -> ChunkOutcome:
    names = (chunk.payload_text or "").splitlines()
    memo = chunk.payload or {}
    specs = [parse_create({"name": n, "type": "document"}) for n in names]
    resources_insert_many(tenant=job.tenant, specs=specs)
    return ChunkOutcome(successful=len(specs), failed=0, meta={"memo": memo})


@register_chunk_handler("test.setting")
def report_commit_setting(job: Job, chunk: Chunk) -> ChunkOutcome:
    """Reports the session's synchronous_commit as seen inside the chunk."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        value = cursor.fetchone()[0]
    return ChunkOutcome(successful=1, failed=0, meta={"synchronous_commit": value})


@register_check_handler("test.cancelled-meanwhile")
def check_while_cancelled(job: Job, chunk: Chunk) -> CheckOutcome:
    """Cancels the job from another connection while this check holds its chunks."""
    import threading

    from django.db import connection as thread_connection

    from jobs.models import Job as JobModel

    def cancel() -> None:
        try:
            current = JobModel.objects.get(pk=job.pk)
            if not current.is_finished:
                lifecycle.job_cancel(job=current)
        finally:
            thread_connection.close()

    thread = threading.Thread(target=cancel)
    thread.start()
    thread.join()
    return CheckOutcome(invalid=0)


def gate_key(job_id: str) -> str:
    return f"pcf:test:gate:{job_id}"


# A gated or held chunk gives up waiting after this long (a test that forgot to open its
# gate must not hold a worker for ever).
GATE_TIMEOUT_SECONDS = 120


def _wait_for_counter(key: str, *, above: int) -> None:
    """Wait until the Redis counter `key` is above `above` (a test sets or INCRs it)."""
    client = redis_client()
    deadline = time.monotonic() + GATE_TIMEOUT_SECONDS
    while int(client.get(key) or 0) <= above:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{key} not above {above} within {GATE_TIMEOUT_SECONDS}s")
        time.sleep(0.05)


@register_chunk_handler("test.gated")
def gated(job: Job, chunk: Chunk) -> ChunkOutcome:
    """Payload {"rows": n}: waits until the job's gate counter (Redis, `gate_key`) is
    above the chunk's seq, then counts n successful rows. A test opens the gate one chunk
    at a time (INCR) to make progress advance step by step."""
    _wait_for_counter(gate_key(job.id), above=chunk.seq)
    rows = int((chunk.payload or {}).get("rows", 1))
    return ChunkOutcome(successful=rows, failed=0)
