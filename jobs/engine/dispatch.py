"""The window: PostgreSQL is the queue of record; the broker carries only a few messages.

A chunk is *ready* when it is pending, carries no message, and its job may run it (a
check of a chunk staged for checking; or applying it, once its job is sealed and its
check pass, if any, passed). `refill` gives every free slot of the window (sized from
the live workers' concurrency, two messages per process by default) to ready work,
fairly: round-robin across tenants that have ready work, then across that tenant's
jobs (Hatchet's GROUP_ROUND_ROBIN), levelling how many messages each has in flight and
breaking ties by who was served longest ago. `PCF_TENANT_MAX_RUNNING_CHUNKS` caps one
tenant's messages in flight. Each message is a Dispatch row written in the refill's
transaction and published after its commit; its chunks' finishing commit deletes it,
and the worker then refills, so the window stays full while work is left. A message
checks up to CHECK_BATCH chunks, or applies up to PCF_DISPATCH_GROUP_CHUNKS consecutive
chunks of PCF_DISPATCH_GROUP_ROWS units in all (each chunk its own transaction), so the
per-message cost is shared by thousands of rows.

A 10-million-row job therefore never puts more than the window in the broker, and a
small job of another tenant waits behind at most the window, never a backlog."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from jobs.engine import broker, locks
from jobs.models import Dispatch, DispatchKind, Worker

logger = logging.getLogger("pcf.jobs.dispatch")

TASK = "jobs.tasks.run_dispatch"
QUEUE = "chunks"
# Chunks checked per check message: a check is cheap next to a message's own cost.
CHECK_BATCH = 16


def live_processes(queue: str, *, now: datetime | None = None) -> int:
    """Worker processes consuming `queue`, from heartbeats seen recently."""
    now = now or timezone.now()
    alive_after = now - timedelta(seconds=3 * int(settings.PCF_WORKER_HEARTBEAT_SECONDS))
    total = (
        Worker.objects.filter(seen_at__gte=alive_after, queues__regex=rf"(^|,){queue}(,|$)")
        .aggregate(processes=Sum("concurrency"))
        .get("processes")
    )
    return int(total or 0)


# Heartbeats come every PCF_WORKER_HEARTBEAT_SECONDS: reading them once per refill would
# cost a query per message for nothing. (monotonic time, size) per queue.
_window_cache: dict[str, tuple[float, int]] = {}


def window_size(queue: str = QUEUE) -> int:
    """Messages the broker may hold for `queue`: PCF_DISPATCH_WINDOW when set, else
    PCF_DISPATCH_PER_PROCESS per live worker process, at least PCF_DISPATCH_WINDOW_MIN
    (work is ready for the first worker that starts)."""
    fixed = int(settings.PCF_DISPATCH_WINDOW)
    if fixed > 0:
        return fixed
    cached = _window_cache.get(queue)
    if cached is not None and time.monotonic() - cached[0] < _WINDOW_CACHE_SECONDS:
        return cached[1]
    per_process = int(settings.PCF_DISPATCH_PER_PROCESS)
    size = max(int(settings.PCF_DISPATCH_WINDOW_MIN), live_processes(queue) * per_process)
    _window_cache[queue] = (time.monotonic(), size)
    return size


_WINDOW_CACHE_SECONDS = 2.0


@dataclass
class _JobWork:
    """One job's ready work: a kind, and its ready chunks in order."""

    job_id: str
    tenant_id: int
    created_at: datetime
    last_served: datetime | None
    kind: str
    chunk_ids: list[int]
    seqs: list[int]
    rows: list[int]
    in_flight: int = 0

    def take(self, *, max_chunks: int, max_rows: int) -> tuple[list[int], int]:
        """The next unit: up to CHECK_BATCH chunks to check, or consecutive chunks to
        apply, up to `max_chunks` of them and `max_rows` units (at least one chunk)."""
        if self.kind == DispatchKind.CHECK:
            size = CHECK_BATCH
        else:
            size, total = 0, 0
            while size < min(max_chunks, len(self.rows)):
                if size and total + self.rows[size] > max_rows:
                    break
                total += self.rows[size]
                size += 1
        ids, self.chunk_ids = self.chunk_ids[:size], self.chunk_ids[size:]
        first = self.seqs[0]
        self.seqs, self.rows = self.seqs[size:], self.rows[size:]
        return ids, first


@dataclass
class _Tenant:
    tenant_id: int
    in_flight: int = 0
    last_served: datetime | None = None
    jobs: list[_JobWork] = field(default_factory=list)


@dataclass(frozen=True)
class Planned:
    job_id: str
    tenant_id: int
    kind: str
    chunk_ids: list[int]
    task_id: str


# One statement: the window's occupancy, and every active job with ready work with its
# next ready chunks by seq (as many as the free slots could take) and its and its
# tenant's messages in flight: one row per job and kind. The partial indexes
# chunk_ready_apply / chunk_ready_check make each lookup a short index scan.
_READY_SQL = """
WITH flight AS (
    SELECT tenant_id, job_id, count(*) AS n FROM jobs_dispatch
    WHERE queue = %(queue)s GROUP BY tenant_id, job_id
), per_tenant AS (
    SELECT tenant_id, sum(n) AS n FROM flight GROUP BY tenant_id
), free AS (
    SELECT greatest(0, %(window)s - coalesce(sum(n), 0))::int AS slots FROM flight
)
SELECT (SELECT slots FROM free), j.id, j.tenant_id, j.created_at, j.last_dispatched_at,
       coalesce(fj.n, 0), coalesce(ft.n, 0), w.kind, w.ids, w.seqs, w.rows
FROM jobs_job j
CROSS JOIN LATERAL (
    SELECT 'check' AS kind, array_agg(id ORDER BY seq) AS ids,
           array_agg(seq ORDER BY seq) AS seqs, array_agg(row_count ORDER BY seq) AS rows
    FROM (SELECT c.id, c.seq, c.row_count FROM jobs_chunk c
          WHERE c.job_id = j.id AND c.status = 'pending' AND c.dispatch_id IS NULL
            AND NOT c.checked
          ORDER BY c.seq LIMIT (SELECT slots FROM free) * %(check)s) AS unchecked
    UNION ALL
    SELECT 'apply', array_agg(id ORDER BY seq), array_agg(seq ORDER BY seq),
           array_agg(row_count ORDER BY seq)
    FROM (SELECT c.id, c.seq, c.row_count FROM jobs_chunk c
          WHERE j.sealed AND j.chunks_unchecked = 0 AND j.check_failed = 0
            AND c.job_id = j.id AND c.status = 'pending' AND c.dispatch_id IS NULL
            AND c.checked
          ORDER BY c.seq LIMIT (SELECT slots FROM free) * %(apply)s) AS checked
) AS w
LEFT JOIN flight fj ON fj.job_id = j.id
LEFT JOIN per_tenant ft ON ft.tenant_id = j.tenant_id
WHERE j.status IN ('queued', 'processing') AND w.ids IS NOT NULL
"""


def _ready_work(queue: str, window: int) -> tuple[int, list[_JobWork], dict[int, int]]:
    """(free slots, each job's ready work, messages in flight per tenant)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _READY_SQL,
            {
                "queue": queue,
                "window": window,
                "check": CHECK_BATCH,
                "apply": int(settings.PCF_DISPATCH_GROUP_CHUNKS),
            },
        )
        rows = cursor.fetchall()
    if not rows:
        return 0, [], {}
    per_tenant: dict[int, int] = {}
    work = []
    for _, job_id, tenant_id, created, served, job_n, tenant_n, kind, ids, seqs, sizes in rows:
        per_tenant[tenant_id] = int(tenant_n)
        chunks = (list(ids), list(seqs), list(sizes))
        work.append(
            _JobWork(job_id, tenant_id, created, served, kind, *chunks, in_flight=int(job_n))
        )
    return int(rows[0][0]), work, per_tenant


def _never(value: datetime | None) -> datetime:
    # Never served sorts first: a newcomer gets the next free slot.
    return value or datetime.min.replace(tzinfo=timezone.get_current_timezone())


def choose(
    work: Sequence[_JobWork],
    per_tenant: dict[int, int],
    free: int,
    *,
    cap: int,
    now: datetime,
    max_chunks: int = 1,
    max_rows: int = 0,
) -> list[Planned]:
    """Give `free` slots to `work`, one at a time: to the tenant with the fewest
    messages in flight (ties: served longest ago), then to that tenant's job with the
    fewest in flight (ties: served longest ago, then oldest). `cap` > 0 bounds one
    tenant's messages in flight. A message applies up to `max_chunks` consecutive chunks
    of `max_rows` units in all (see _JobWork.take)."""
    tenants: dict[int, _Tenant] = {}
    for job in work:
        tenant = tenants.setdefault(
            job.tenant_id, _Tenant(job.tenant_id, in_flight=per_tenant.get(job.tenant_id, 0))
        )
        tenant.jobs.append(job)
        if job.last_served and (tenant.last_served is None or job.last_served > tenant.last_served):
            tenant.last_served = job.last_served
    planned: list[Planned] = []
    tick = now
    while free > 0:
        eligible = [
            t
            for t in tenants.values()
            if any(j.chunk_ids for j in t.jobs) and (cap <= 0 or t.in_flight < cap)
        ]
        if not eligible:
            break
        tenant = min(eligible, key=lambda t: (t.in_flight, _never(t.last_served), t.tenant_id))
        job = min(
            (j for j in tenant.jobs if j.chunk_ids),
            key=lambda j: (j.in_flight, _never(j.last_served), j.created_at, j.job_id),
        )
        ids, first_seq = job.take(max_chunks=max_chunks, max_rows=max_rows)
        kind_word = "check" if job.kind == DispatchKind.CHECK else "chunk"
        planned.append(
            Planned(
                job.job_id, job.tenant_id, job.kind, ids, f"{job.job_id}.{kind_word}.{first_seq}"
            )
        )
        # Later in this same refill counts as "served later": strictly increasing.
        tick = tick + timedelta(microseconds=1)
        job.in_flight += 1
        job.last_served = tick
        tenant.in_flight += 1
        tenant.last_served = tick
        free -= 1
    return planned


# The messages' rows, their chunks' marks and the jobs' round-robin memory in one
# statement: a data-modifying WITH.
_RECORD_SQL = """
WITH planned AS (
    SELECT * FROM unnest(%(jobs)s::text[], %(tenants)s::bigint[], %(kinds)s::text[],
                         %(tasks)s::text[]) AS p(job_id, tenant_id, kind, task_id)
), made AS (
    INSERT INTO jobs_dispatch (job_id, tenant_id, kind, queue, task_id, sent_at, sends,
                               created_at)
    SELECT job_id, tenant_id, kind, %(queue)s, task_id, %(now)s, 1, %(now)s FROM planned
    RETURNING id, task_id
), marked AS (
    UPDATE jobs_chunk c SET dispatch_id = made.id
    FROM unnest(%(chunks)s::bigint[], %(chunk_tasks)s::text[]) AS m(chunk_id, task_id)
    JOIN made ON made.task_id = m.task_id
    WHERE c.id = m.chunk_id AND c.status = 'pending' AND c.dispatch_id IS NULL
), served AS (
    UPDATE jobs_job SET last_dispatched_at = %(now)s
    WHERE id IN (SELECT job_id FROM planned)
)
SELECT id, task_id FROM made
"""


def _record(planned: list[Planned], queue: str, now: datetime) -> list[broker.Message]:
    """Write the Dispatch rows and mark their chunks; return the messages to publish."""
    chunk_ids: list[int] = []
    chunk_tasks: list[str] = []
    for plan in planned:
        chunk_ids.extend(plan.chunk_ids)
        chunk_tasks.extend([plan.task_id] * len(plan.chunk_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            _RECORD_SQL,
            {
                "jobs": [p.job_id for p in planned],
                "tenants": [p.tenant_id for p in planned],
                "kinds": [p.kind for p in planned],
                "tasks": [p.task_id for p in planned],
                "queue": queue,
                "now": now,
                "chunks": chunk_ids,
                "chunk_tasks": chunk_tasks,
            },
        )
        made = cursor.fetchall()
    return [broker.Message(TASK, (pk,), task_id, queue) for pk, task_id in made]


def refill(queue: str = QUEUE) -> int:
    """Fill the window's free slots with fairly chosen ready work, in a transaction of
    its own (one refill at a time: an advisory lock), and publish the messages after it
    commits. Returns how many were planned. A broker that refuses them loses nothing:
    their Dispatch rows stay, unstarted, and the sweeper sends them again."""
    window = window_size(queue)
    with transaction.atomic():
        locks.hold_for_transaction(locks.DISPATCHER)
        free, work, per_tenant = _ready_work(queue, window)
        if free <= 0 or not work:
            return 0
        now = timezone.now()
        planned = choose(
            work,
            per_tenant,
            free,
            cap=int(settings.PCF_TENANT_MAX_RUNNING_CHUNKS),
            now=now,
            max_chunks=int(settings.PCF_DISPATCH_GROUP_CHUNKS),
            max_rows=int(settings.PCF_DISPATCH_GROUP_ROWS),
        )
        if not planned:
            return 0
        messages = _record(planned, queue, now)
        transaction.on_commit(lambda: publish(messages))
    return len(planned)


def refill_after_commit(queue: str = QUEUE) -> None:
    """Refill once the current transaction commits (at once outside of one). Errors are
    logged, never raised: the sweeper refills too."""

    def run() -> None:
        try:
            refill(queue)
        except Exception:
            logger.warning("window refill failed; the sweeper will refill", exc_info=True)

    transaction.on_commit(run)


def publish(messages: Sequence[broker.Message]) -> None:
    try:
        broker.send(messages)
    except Exception:
        logger.warning(
            "%s window message(s) not published; the sweeper re-sends", len(messages), exc_info=True
        )


def resend(dispatches: Sequence[Dispatch], *, now: datetime) -> int:
    """Publish these window messages again (lost, or their worker died); they count as
    unstarted from now on."""
    if not dispatches:
        return 0
    ids = [d.pk for d in dispatches]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE jobs_dispatch SET sent_at = %s, sends = sends + 1, started_at = NULL"
            " WHERE id = ANY(%s)",
            [now, ids],
        )
    messages = [broker.Message(TASK, (d.pk,), d.task_id, d.queue) for d in dispatches]
    transaction.on_commit(lambda: publish(messages))
    return len(messages)
