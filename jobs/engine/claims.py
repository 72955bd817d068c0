"""The exactly-once core: starting a window message, and claiming its chunks.

A worker starts a message (a Dispatch row) by taking a session advisory lock on it and
stamping the start; the lock lives exactly as long as the worker's database session
does, so a worker that dies, or loses its connection, lets go of it at once. The
sweeper reads held locks from pg_locks to tell a running message from a lost one,
without ever touching the rows a worker uses.

The chunks themselves are claimed with `SELECT … FOR UPDATE SKIP LOCKED` on
`status = 'pending'` inside the transaction that also holds the handler's writes, the
row errors, the done mark and the job's counters: a second delivery of the same chunk
skips it (locked, or no longer pending), and a dead attempt rolled back leaves it
pending for the next."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.db import connection
from django.db.models import JSONField, Model
from django.utils import timezone

from jobs.models import Chunk, Job
from pcf.models import ApiClient

# Advisory lock keys of running messages are this plus the Dispatch id (bigint form),
# far above the fixed keys of jobs.engine.locks.
DISPATCH_LOCK_BASE = 1 << 40


@dataclass(frozen=True)
class Started:
    """A window message this worker now runs: its job, kind and pending chunks."""

    dispatch_id: int
    job_id: str
    kind: str
    task_id: str
    chunk_ids: list[int]
    # For log lines (pcf.logcontext): the tenant, and each chunk's seq and attempt.
    tenant_id: int
    seqs: list[int]
    attempts: list[int]


_START_SQL = """
WITH target AS MATERIALIZED (
    SELECT id FROM jobs_dispatch WHERE id = %(id)s
), locked AS MATERIALIZED (
    SELECT id FROM target WHERE pg_try_advisory_lock(%(base)s::bigint + id)
), started AS (
    UPDATE jobs_dispatch d SET started_at = %(now)s
    FROM locked WHERE d.id = locked.id
    RETURNING d.id, d.job_id, d.kind, d.task_id, d.tenant_id
), stamped AS (
    UPDATE jobs_chunk c SET attempts = attempts + %(count)s, last_attempt_at = %(now)s
    FROM started WHERE c.dispatch_id = started.id AND c.status = 'pending'
    RETURNING c.id, c.seq, c.attempts
)
SELECT s.id, s.job_id, s.kind, s.task_id,
       ARRAY(SELECT id FROM stamped ORDER BY seq), s.tenant_id,
       ARRAY(SELECT seq FROM stamped ORDER BY seq),
       ARRAY(SELECT attempts FROM stamped ORDER BY seq)
FROM started s
"""


def start(dispatch_id: int, *, count_attempt: bool = True) -> Started | None:
    """Lock and stamp a window message (one autocommit statement: the stamp and the
    attempt counts are kept even if the worker dies next). None when the message is
    gone (its chunks finished) or another worker runs it. `count_attempt`: False when
    resuming after an infrastructure failure, which is not the chunk's fault."""
    with connection.cursor() as cursor:
        cursor.execute(
            _START_SQL,
            {
                "id": dispatch_id,
                "base": DISPATCH_LOCK_BASE,
                "count": 1 if count_attempt else 0,
                "now": timezone.now(),
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Started(
        dispatch_id=row[0],
        job_id=row[1],
        kind=row[2],
        task_id=row[3],
        chunk_ids=list(row[4]),
        tenant_id=row[5],
        seqs=list(row[6]),
        attempts=list(row[7]),
    )


def release(dispatch_id: int) -> None:
    """Let go of a message's lock (a broken connection has let go already)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s::bigint + %s)", [DISPATCH_LOCK_BASE, dispatch_id]
            )
    except Exception:
        connection.close()


def running_dispatch_ids() -> set[int]:
    """Ids of the messages some worker holds right now (their advisory locks)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT ((classid::bigint << 32) | objid::bigint) - %s
            FROM pg_locks
            WHERE locktype = 'advisory' AND objsubid = 1 AND granted
              AND ((classid::bigint << 32) | objid::bigint) >= %s
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """,
            [DISPATCH_LOCK_BASE, DISPATCH_LOCK_BASE],
        )
        return {int(row[0]) for row in cursor.fetchall()}


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


def claim(chunk_ids: Sequence[int], *, unchecked: bool = False) -> list[Chunk]:
    """Lock the pending chunks (SKIP LOCKED: one another attempt holds is left out) and
    load each with its job and tenant in one statement, as select_related would, without
    building the query through the ORM every time. A chunk waiting for its check is
    claimed only with `unchecked`, and then only those. Call inside a transaction."""
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
