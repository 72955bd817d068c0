"""Jobs and their chunks: PostgreSQL is the ledger of what is done and what is left.

A chunk's input lives in its row (never on a web node's disk), so any worker on any
host can run it. A chunk moves pending -> done (or failed / cancelled) in the same
transaction as its writes, its row errors and the job's counters."""

from __future__ import annotations

import secrets

from django.db import models


def new_job_id() -> str:
    return "job_" + secrets.token_hex(12)


class JobType(models.TextChoices):
    CSV_IMPORT = "csv_import"
    BULK_IMPORT = "bulk_import"
    BATCH = "batch"
    BULK_UPDATE = "bulk_update"
    BULK_DELETE = "bulk_delete"


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
    type = models.CharField(max_length=16, choices=JobType.choices)
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
    # Set when the job is finished *and settled*: a chunk already running when the job
    # was cancelled (or failed) commits and is counted first; see services._settle.
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="job_tenant_recent"),
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
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # Written outside the chunk's transaction when a worker takes it: the sweeper
    # leaves a chunk alone while an attempt is recent.
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.IntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="chunk_job_seq")]
        indexes = [
            models.Index(
                fields=["job", "status"],
                name="chunk_pending",
                condition=models.Q(status="pending"),
            )
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


class WebhookDelivery(models.Model):
    """One row per attempt: what was sent where, and how it went."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="webhook_deliveries")
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
