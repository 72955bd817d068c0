"""Helpers for the engine's tests: build jobs of `test.*` handlers and wait on them."""

from __future__ import annotations

from typing import Any

import pytest

import tests.jobs.handlers  # noqa: F401 - registers the test.* handlers here too
from jobs import services
from jobs.models import Job
from pcf.models import ApiClient


def make_job(
    tenant: ApiClient,
    chunks: list[dict[str, Any]],
    *,
    handler: str = "test.rows",
    type: str = "bulk_import",
    webhook: dict[str, Any] | None = None,
    start: bool = True,
) -> Job:
    """A job with one chunk per payload ({"names": [...]} for test.rows)."""
    job = services.job_create(
        tenant=tenant, type=type, options={}, webhook=webhook, handler=handler
    )
    offset = 0
    for seq, payload in enumerate(chunks):
        count = len(payload.get("names", [])) or int(payload.get("rows", 1))
        services.job_add_chunk(
            job=job, seq=seq, row_offset=offset, row_count=count, payload=payload, dispatch=False
        )
        offset += count
    if start:
        services.job_start(job=job, total=offset)
    return job


@pytest.fixture
def allow_private_webhooks(settings: Any) -> None:
    settings.PCF_WEBHOOK_ALLOW_PRIVATE = True
