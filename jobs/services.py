"""The job engine, as other apps use it: submit a job, cancel it, re-run what failed,
send its webhook again.

A feature registers a chunk handler (jobs.handlers) and submits jobs here; the engine
(jobs/engine/) owns dispatch, retries, the ledger, progress, finishing, webhooks and
retention. Apps import this module, never jobs.engine."""

from __future__ import annotations

from jobs.engine import outbox
from jobs.engine.lifecycle import (
    ChunkInput,
    job_cancel,
    job_fail,
    job_rerun_failed_chunks,
    job_submit,
)
from jobs.models import Job, WebhookMessage
from pcf.models import ApiClient, new_webhook_secret

__all__ = [
    "ChunkInput",
    "job_cancel",
    "job_fail",
    "job_rerun_failed_chunks",
    "job_submit",
    "job_webhook_resend",
    "webhook_secret_rotate",
]


def webhook_secret_rotate(*, tenant: ApiClient) -> str:
    """Give the tenant a new signing secret; deliveries from now on use it."""
    tenant.webhook_secret = new_webhook_secret()
    tenant.save(update_fields=["webhook_secret"])
    return tenant.webhook_secret


def job_webhook_resend(*, job: Job) -> WebhookMessage:
    """Send a settled job's last webhook event again, through the outbox (see
    jobs.engine.outbox.resend_last); Conflict when the job is running or has none."""
    return outbox.resend_last(job)
