"""Jobs and their chunks: PostgreSQL is the ledger of what is done and what is left,
and the queue of record.

A chunk's input lives in its row (never on a web node's disk), so any worker on any
host can run it. A chunk moves pending -> done (or failed / cancelled) in the same
transaction as its writes, its row errors and the job's counters. Only a small window
of chunks is in the broker at any time: one `Dispatch` row per message (see
jobs/engine/dispatch.py). Webhooks leave from an outbox (`WebhookMessage`)."""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.db.models.functions import Now

from pcf.models import ApiClient


def new_job_id() -> str:
    return "job_" + secrets.token_hex(12)


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.PROCESSING)


class Job(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_job_id, editable=False)
    tenant = models.ForeignKey("pcf.ApiClient", on_delete=models.CASCADE, related_name="jobs")
    # A job kind registered with jobs.handlers (checked at creation, not by an enum: the
    # engine does not know its clients).
    type = models.CharField(max_length=32)
    # The registered chunk handler; empty means the one registered under `type`.
    handler = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    options = models.JSONField(default=dict, blank=True)
    webhook = models.JSONField(null=True, blank=True)
    message = models.TextField(blank=True, default="")
    # Sealed by job_start: no chunk is added after it, so "all chunks done" means finished.
    sealed = models.BooleanField(default=False)
    chunks_total = models.IntegerField(default=0)
    chunks_finished = models.IntegerField(default=0)
    total = models.IntegerField(default=0)
    # processed = successful + failed + skipped. The summary (API, webhook) is derived
    # from these counters when read (jobs.representation.job_summary), never stored.
    processed = models.IntegerField(default=0)
    successful = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    skipped = models.IntegerField(default=0)
    # The check pass (jobs.services.chunks_check): chunks still to check, and rows found
    # invalid. No chunk is applied before every chunk passed (a strict import).
    chunks_unchecked = models.IntegerField(default=0)
    check_failed = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # When the dispatcher last gave this job a window slot: round-robin memory for
    # fairness across a tenant's jobs and across tenants (jobs/engine/dispatch.py).
    last_dispatched_at = models.DateTimeField(null=True, blank=True)
    # Set when the job is finished *and settled*: a chunk already running when the job
    # was cancelled (or failed) commits and is counted first; see services._settle.
    finished_at = models.DateTimeField(null=True, blank=True)
    # The X-Request-ID of the request that submitted it (pcf.request_id): from an API
    # call to every log line of its job. Empty when submitted outside a request.
    request_id = models.CharField(max_length=128, blank=True, default="", db_default="")

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="job_tenant_recent"),
            # The admin's job list, newest first across tenants (with a date filter).
            models.Index(fields=["-created_at", "-id"], name="job_recent"),
            models.Index(
                fields=["status"],
                name="job_active",
                condition=models.Q(status__in=["queued", "processing"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.type}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def is_settled(self) -> bool:
        """Finished, and no chunk of it is running any more: its counts are final."""
        return self.is_finished and self.finished_at is not None

    @property
    def handler_name(self) -> str:
        return self.handler or self.type


class ChunkStatus(models.TextChoices):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Chunk(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="chunks")
    seq = models.IntegerField()
    payload = models.JSONField(null=True, blank=True)
    # NULL (not "") means "no text payload": the interface passes None.
    payload_text = models.TextField(null=True, blank=True)  # noqa: DJ001
    row_offset = models.IntegerField(default=0)
    row_count = models.IntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    attempts = models.IntegerField(default=0)
    successful = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    skipped = models.IntegerField(default=0)
    # Handler results and meta (async batch), read back by GET /jobs/{id}/results.
    result = models.JSONField(null=True, blank=True)
    # False while the chunk waits for its check (see Job.chunks_unchecked).
    checked = models.BooleanField(default=True)
    error = models.TextField(blank=True, default="")
    # The window message carrying this chunk (NULL: ready, or finished). Cleared in the
    # transaction that finishes the chunk.
    dispatch = models.ForeignKey(
        "Dispatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="chunks"
    )
    # Written outside the chunk's transaction when a worker starts it (the attempt
    # counter above is kept even when the worker dies: poison chunks are given up).
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.IntegerField(null=True, blank=True)
    # Since when it waits to run: stored (the database's clock, also for COPY), or put
    # back by a re-run. The oldest ready chunk's age is the autoscaling signal (jobs.metrics).
    ready_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="chunk_job_seq")]
        indexes = [
            models.Index(
                fields=["job", "status"],
                name="chunk_pending",
                condition=models.Q(status="pending"),
            ),
            # The dispatcher's lookups: a job's next ready chunks, in order, to apply
            # and to check (jobs/engine/dispatch.py).
            models.Index(
                fields=["job", "seq"],
                name="chunk_ready_apply",
                condition=models.Q(status="pending", dispatch__isnull=True, checked=True),
            ),
            models.Index(
                fields=["job", "seq"],
                name="chunk_ready_check",
                condition=models.Q(status="pending", dispatch__isnull=True, checked=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}#{self.seq} ({self.status})"

    @property
    def task_id(self) -> str:
        """Every dispatch of a chunk reuses one Celery task id, so its TaskResult row
        (django-celery-results) shows the latest outcome and is found by job id."""
        return chunk_task_id(self.job_id, self.seq)


def chunk_task_id(job_id: str, seq: int) -> str:
    return f"{job_id}.chunk.{seq}"


class DispatchKind(models.TextChoices):
    APPLY = "apply"  # apply the chunks (the job's chunk handler)
    CHECK = "check"  # check them without writing (the check pass of a strict import)


class Dispatch(models.Model):
    """One message in the broker's window: work on some chunks of one job.

    The row exists from the moment the message is sent until the transaction that
    finishes its chunks, so the number of rows is the window's occupancy. A worker
    running it holds a session advisory lock on it (jobs/engine/claims.py), which is
    how the sweeper tells a running message from a lost one without touching it."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="dispatches")
    # Copied from the job: fairness counts a tenant's messages without a join.
    tenant_id = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=DispatchKind.choices)
    queue = models.CharField(max_length=32, default="chunks")
    # Celery task id (stable across re-sends, so the admin's task result is found).
    task_id = models.CharField(max_length=80)
    sent_at = models.DateTimeField()
    sends = models.IntegerField(default=1)
    started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["queue", "sent_at"], name="dispatch_queue_sent"),
            models.Index(fields=["job"], name="dispatch_job"),
        ]

    def __str__(self) -> str:
        return f"{self.task_id} ({'started' if self.started_at else 'queued'})"


class Worker(models.Model):
    """A live Celery worker and what it consumes, from its heartbeat: the window is
    sized from the processes that consume each queue."""

    hostname = models.CharField(primary_key=True, max_length=255)
    queues = models.CharField(max_length=255)  # comma-separated
    concurrency = models.IntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} ({self.queues} x{self.concurrency})"


class EngineState(models.Model):
    """Small facts the engine keeps across processes (e.g. the broker's epoch)."""

    key = models.CharField(primary_key=True, max_length=64)
    value = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class JobError(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="errors")
    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, null=True, blank=True)
    row = models.IntegerField(null=True, blank=True)
    index = models.IntegerField(null=True, blank=True)
    field = models.CharField(max_length=255, blank=True, default="")
    code = models.CharField(max_length=32, default="VALIDATION_ERROR")
    message = models.TextField()
    values = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["job", "id"], name="joberror_job_id")]

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else f"index {self.index}"
        return f"{self.job_id} {where}: {self.field} {self.message}"


class WebhookMessageStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookMessage(models.Model):
    """The outbox: one webhook to deliver, written in the transaction that settles its
    job, sent and retried from this row (not from broker messages), at least once.
    Its id is the `X-PCF-Delivery-ID` receivers use to drop duplicates."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="webhook_messages")
    event = models.CharField(max_length=64)
    url = models.URLField(max_length=2048)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField()  # the JSON payload, fixed when written: every attempt sends it
    status = models.CharField(
        max_length=16,
        choices=WebhookMessageStatus.choices,
        default=WebhookMessageStatus.PENDING,
    )
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # An attempt in progress holds the message until then (a worker that dies frees it).
    leased_until = models.DateTimeField(null=True, blank=True)
    # When a delivery task was last sent for it; the sweeper re-sends lost ones.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhookmessage_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["job"], name="webhookmessage_job"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} {self.event} ({self.status})"


class WebhookDelivery(models.Model):
    """One row per attempt: what was sent where, and how it went."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="webhook_deliveries")
    message = models.ForeignKey(
        WebhookMessage, null=True, blank=True, on_delete=models.CASCADE, related_name="attempt_log"
    )
    event = models.CharField(max_length=64)
    url = models.URLField(max_length=2048)
    attempt = models.IntegerField()
    status_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.IntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["job", "id"], name="webhookdelivery_job_id")]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.job_id} {self.event} #{self.attempt}"


class LiveTenant(ApiClient):
    """The admin's page of tenants with running jobs (jobs/admin.py): a proxy with no
    table of its own, so the page has an entry, and a permission, in the admin index."""

    class Meta:
        proxy = True
        verbose_name = "live tenant"
