"""Operators' reads across tenants, for the admin console (jobs/admin.py): live
progress of some jobs, and the tenants whose jobs are running now. Each is a few
indexed queries, whatever the size of the tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q

from jobs.models import ACTIVE_STATUSES, Dispatch, Job
from jobs.progress import percentage
from jobs.representation import rows_per_second
from pcf.models import ApiClient

# Running jobs shown on the live page: more than an operator reads, few enough that
# the page stays one quick query (the partial index job_active).
LIVE_JOBS_LIMIT = 500
# Jobs one progress poll may ask about (a changelist page is 100).
PROGRESS_IDS_LIMIT = 200


def job_progress(job: Job) -> dict[str, Any]:
    """What the console's progress bars show of one job."""
    return {
        "status": job.status,
        "finished": job.is_finished,
        "processed": job.processed,
        "total": job.total,
        "percentage": percentage(job.processed, job.total, job.is_finished),
        "rows_per_second": rows_per_second(job),
        "chunks_finished": job.chunks_finished,
        "chunks_total": job.chunks_total,
    }


def jobs_progress(job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Progress of the jobs with these ids (at most PROGRESS_IDS_LIMIT), by id; an
    unknown id is left out."""
    jobs = Job.objects.filter(pk__in=job_ids[:PROGRESS_IDS_LIMIT])
    return {job.pk: job_progress(job) for job in jobs}


@dataclass
class LiveTenantRow:
    """A tenant with queued or processing jobs, and its share of the window."""

    tenant: ApiClient
    jobs: list[Job] = field(default_factory=list)
    messages_queued: int = 0  # window messages sent, not started by a worker yet
    messages_running: int = 0

    @property
    def processed(self) -> int:
        return sum(job.processed for job in self.jobs)

    @property
    def total(self) -> int:
        return sum(job.total for job in self.jobs)

    @property
    def rows_per_second(self) -> float:
        return round(sum(rows_per_second(job) or 0.0 for job in self.jobs), 1)


def live_tenants(*, limit: int = LIVE_JOBS_LIMIT) -> tuple[list[LiveTenantRow], bool]:
    """Tenants with running (queued or processing) jobs, busiest first, each with its
    jobs (oldest first) and its window messages; and whether `limit` cut the jobs."""
    jobs = list(
        Job.objects.filter(status__in=ACTIVE_STATUSES)
        .select_related("tenant")
        .order_by("created_at", "id")[: limit + 1]
    )
    truncated = len(jobs) > limit
    rows: dict[int, LiveTenantRow] = {}
    for job in jobs[:limit]:
        rows.setdefault(job.tenant_id, LiveTenantRow(tenant=job.tenant)).jobs.append(job)
    # The window is small (a few messages per worker process): one grouped scan.
    window = (
        Dispatch.objects.filter(tenant_id__in=list(rows))
        .values("tenant_id")
        .annotate(
            queued=Count("id", filter=Q(started_at__isnull=True)),
            running=Count("id", filter=Q(started_at__isnull=False)),
        )
    )
    for counts in window:
        row = rows[counts["tenant_id"]]
        row.messages_queued, row.messages_running = counts["queued"], counts["running"]
    ordered = sorted(rows.values(), key=lambda r: (-r.messages_running, -len(r.jobs), r.tenant.pk))
    return ordered, truncated
