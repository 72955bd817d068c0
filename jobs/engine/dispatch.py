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
and the worker then refills, so the window stays full while work is left.

A 10-million-row job therefore never puts more than the window in the broker, and a
small job of another tenant waits behind at most the window, never a backlog."""

from __future__ import annotations

import logging
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


def window_size(queue: str = QUEUE) -> int:
    """Messages the broker may hold for `queue`: PCF_DISPATCH_WINDOW when set, else
    PCF_DISPATCH_PER_PROCESS per live worker process, at least PCF_DISPATCH_WINDOW_MIN
    (work is ready for the first worker that starts)."""
    fixed = int(settings.PCF_DISPATCH_WINDOW)
    if fixed > 0:
        return fixed
    per_process = int(settings.PCF_DISPATCH_PER_PROCESS)
    return max(int(settings.PCF_DISPATCH_WINDOW_MIN), live_processes(queue) * per_process)


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
    in_flight: int = 0

    def take(self) -> tuple[list[int], int]:
        """The next unit: one chunk to apply, or up to CHECK_BATCH chunks to check."""
        size = CHECK_BATCH if self.kind == DispatchKind.CHECK else 1
        ids, self.chunk_ids = self.chunk_ids[:size], self.chunk_ids[size:]
        first, self.seqs = self.seqs[0], self.seqs[size:]
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


# Every active job with ready work, and up to %(apply)s chunks to apply or %(check)s to
# check (its next ones by seq): one row per job and kind. The partial indexes
# chunk_ready_apply / chunk_ready_check make each lookup a short index scan.
_READY_SQL = """
SELECT j.id, j.tenant_id, j.created_at, j.last_dispatched_at, w.kind, w.ids, w.seqs
FROM jobs_job j
CROSS JOIN LATERAL (
    SELECT 'check' AS kind, array_agg(id ORDER BY seq) AS ids, array_agg(seq ORDER BY seq) AS seqs
    FROM (SELECT c.id, c.seq FROM jobs_chunk c
          WHERE c.job_id = j.id AND c.status = 'pending' AND c.dispatch_id IS NULL
            AND NOT c.checked
          ORDER BY c.seq LIMIT %(check)s) AS unchecked
    UNION ALL
    SELECT 'apply', array_agg(id ORDER BY seq), array_agg(seq ORDER BY seq)
    FROM (SELECT c.id, c.seq FROM jobs_chunk c
          WHERE j.sealed AND j.chunks_unchecked = 0 AND j.check_failed = 0
            AND c.job_id = j.id AND c.status = 'pending' AND c.dispatch_id IS NULL
            AND c.checked
          ORDER BY c.seq LIMIT %(apply)s) AS checked
) AS w
WHERE j.status IN ('queued', 'processing') AND w.ids IS NOT NULL
"""


def _in_flight(queue: str) -> tuple[int, dict[int, int], dict[str, int]]:
    """Messages in flight on `queue`: in all, per tenant, per job."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tenant_id, job_id, count(*) FROM jobs_dispatch WHERE queue = %s"
            " GROUP BY tenant_id, job_id",
            [queue],
        )
        rows = cursor.fetchall()
    per_tenant: dict[int, int] = {}
    per_job: dict[str, int] = {}
    for tenant_id, job_id, count in rows:
        per_tenant[tenant_id] = per_tenant.get(tenant_id, 0) + count
        per_job[job_id] = count
    return sum(per_job.values()), per_tenant, per_job


def _ready_work(free: int, per_job: dict[str, int]) -> list[_JobWork]:
    with connection.cursor() as cursor:
        cursor.execute(_READY_SQL, {"apply": free, "check": free * CHECK_BATCH})
        rows = cursor.fetchall()
    return [
        _JobWork(
            job_id=job_id,
            tenant_id=tenant_id,
            created_at=created_at,
            last_served=last_served,
            kind=kind,
            chunk_ids=list(ids),
            seqs=list(seqs),
            in_flight=per_job.get(job_id, 0),
        )
        for job_id, tenant_id, created_at, last_served, kind, ids, seqs in rows
    ]


def _never(value: datetime | None) -> datetime:
    # Never served sorts first: a newcomer gets the next free slot.
    return value or datetime.min.replace(tzinfo=timezone.get_current_timezone())


def choose(
    work: Sequence[_JobWork], per_tenant: dict[int, int], free: int, *, cap: int, now: datetime
) -> list[Planned]:
    """Give `free` slots to `work`, one at a time: to the tenant with the fewest
    messages in flight (ties: served longest ago), then to that tenant's job with the
    fewest in flight (ties: served longest ago, then oldest). `cap` > 0 bounds one
    tenant's messages in flight."""
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
        ids, first_seq = job.take()
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


def _record(planned: list[Planned], queue: str, now: datetime) -> list[broker.Message]:
    """Write the Dispatch rows and mark their chunks; return the messages to publish."""
    rows = Dispatch.objects.bulk_create(
        [
            Dispatch(
                job_id=p.job_id,
                tenant_id=p.tenant_id,
                kind=p.kind,
                queue=queue,
                task_id=p.task_id,
                sent_at=now,
            )
            for p in planned
        ]
    )
    chunk_ids: list[int] = []
    dispatch_ids: list[int] = []
    for plan, row in zip(planned, rows, strict=True):
        chunk_ids.extend(plan.chunk_ids)
        dispatch_ids.extend([row.pk] * len(plan.chunk_ids))
    served = sorted({p.job_id for p in planned})
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE jobs_chunk c SET dispatch_id = m.dispatch_id
            FROM unnest(%s::bigint[], %s::bigint[]) AS m(chunk_id, dispatch_id)
            WHERE c.id = m.chunk_id AND c.status = 'pending' AND c.dispatch_id IS NULL
            """,
            [chunk_ids, dispatch_ids],
        )
        cursor.execute(
            "UPDATE jobs_job SET last_dispatched_at = %s WHERE id = ANY(%s)", [now, served]
        )
    return [broker.Message(TASK, (row.pk,), row.task_id, queue) for row in rows]


def refill(queue: str = QUEUE) -> int:
    """Fill the window's free slots with fairly chosen ready work, in a transaction of
    its own (one refill at a time: an advisory lock), and publish the messages after it
    commits. Returns how many were planned. A broker that refuses them loses nothing:
    their Dispatch rows stay, unstarted, and the sweeper sends them again."""
    with transaction.atomic():
        locks.hold_for_transaction(locks.DISPATCHER)
        occupied, per_tenant, per_job = _in_flight(queue)
        free = window_size(queue) - occupied
        if free <= 0:
            return 0
        now = timezone.now()
        work = _ready_work(free, per_job)
        cap = int(settings.PCF_TENANT_MAX_RUNNING_CHUNKS)
        planned = choose(work, per_tenant, free, cap=cap, now=now)
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
