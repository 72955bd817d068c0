"""The job engine, as other apps use it: submit a job, cancel it, re-run what failed.

A feature registers a chunk handler (jobs.handlers) and submits jobs here; the engine
(jobs/engine/) owns dispatch, retries, the ledger, progress, finishing, webhooks and
retention. Apps import this module, never jobs.engine."""

from __future__ import annotations

from jobs.engine.lifecycle import (
    ChunkInput,
    job_cancel,
    job_fail,
    job_rerun_failed_chunks,
    job_submit,
)
from pcf.models import ApiClient, new_webhook_secret

__all__ = [
    "ChunkInput",
    "job_cancel",
    "job_fail",
    "job_rerun_failed_chunks",
    "job_submit",
    "webhook_secret_rotate",
]


def webhook_secret_rotate(*, tenant: ApiClient) -> str:
    """Give the tenant a new signing secret; deliveries from now on use it."""
    tenant.webhook_secret = new_webhook_secret()
    tenant.save(update_fields=["webhook_secret"])
    return tenant.webhook_secret
