"""The engine counts what it commits: failed chunks and jobs, rows, webhook attempts,
sweeper actions (read back through /metrics' own registry, in this process)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from jobs.engine import execution, outbox, sweeper
from jobs.models import Chunk, WebhookMessage
from jobs.parsing import parse_webhook_option
from tests.jobs.helpers import make_job, run_pending
from tests.live_server import _free_port
from tests.ops.metrics_scrape import Scrape, samples, value

pytestmark = [pytest.mark.django_db(transaction=True)]


def _scrape() -> Scrape:
    return samples(Client().get("/metrics").content.decode())


def _grew(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_a_failed_chunk_counts_its_rows_its_chunk_and_its_job(tenant, settings) -> None:
    settings.PCF_CHUNK_MAX_RETRIES = 0
    before = _scrape()
    # when a job's only chunk (3 rows) fails in its handler
    job = run_pending(make_job(tenant.client_model, [{"rows": 3}], handler="test.broken"))
    assert job.status == "failed"
    # then the failure, its rows and the job's end are counted, once
    after = _scrape()
    assert _grew(before, after, "pcf_chunks_failed_total", kind="apply") == 1
    assert _grew(before, after, "pcf_rows_total", outcome="failed") == 3
    assert _grew(before, after, "pcf_jobs_total", type="bulk_import", status="queued") == 1
    assert _grew(before, after, "pcf_jobs_total", type="bulk_import", status="failed") == 1


def test_webhook_attempts_are_counted_by_outcome(tenant, settings) -> None:
    settings.PCF_WEBHOOK_ALLOW_PRIVATE = True
    closed = f"http://127.0.0.1:{_free_port()}/hook"  # nothing listens: refused, retried
    job = make_job(
        tenant.client_model, [{"names": ["a"]}], webhook=parse_webhook_option({"url": closed})
    )
    execution.chunk_run(chunk_id=Chunk.objects.get(job=job).pk)
    before = _scrape()
    # when its webhook is attempted and the receiver is down
    outbox.deliver(str(WebhookMessage.objects.get(job=job).pk))
    # then one retrying attempt is counted
    after = _scrape()
    assert _grew(before, after, "pcf_webhook_deliveries_total", outcome="retrying") == 1
    assert _grew(before, after, "pcf_webhook_deliveries_total", outcome="delivered") == 0


def test_sweeper_actions_are_counted(tenant) -> None:
    # given an upload whose web process died (never sealed, unchanged for too long)
    make_job(tenant.client_model, [{"rows": 1}], start=False)
    later = timezone.now() + timedelta(seconds=settings.PCF_UPLOAD_STALE_SECONDS + 60)
    before = _scrape()
    # when the sweeper runs
    actions = sweeper.sweep(now=later)
    # then what it did is counted under its action
    assert actions["interrupted"] == 1
    assert _grew(before, _scrape(), "pcf_sweeper_actions_total", action="interrupted") == 1
