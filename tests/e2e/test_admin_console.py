"""The operator's console in a real browser (jobs/admin.py): log in, find jobs, watch a
running job's progress bar move as real workers finish its chunks, download a finished
import's errors as CSV, see the live tenants, cancel a job with the admin action."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest
from django.contrib.admin.utils import quote
from playwright.sync_api import Page, expect

from jobs.models import Job
from pcf.redis import redis_client
from tests.jobs.handlers import gate_key
from tests.jobs.helpers import make_job
from tests.live_server import LiveServer
from tests.polling import wait_for
from tests.tenants import Tenant
from tests.worker_fixtures import Workers

pytestmark = pytest.mark.django_db(transaction=True)

CSV_TEXT = (
    "Name,Type,Status\n"
    "good-1,document,active\n"
    "bad-type,not-a-type,active\n"
    "good-2,image,active\n"
    ",document,active\n"
)


def _import_with_errors(server: LiveServer, tenant: Tenant) -> str:
    """A lenient CSV import through the API, with two invalid rows; its job id once
    the workers have finished it."""
    options = {
        "mapping": {"name": "Name", "type": "Type", "status": "Status"},
        "validation": "lenient",
    }
    with httpx.Client(base_url=server.base, headers=tenant.auth_header, timeout=30) as api:
        answer = api.post(
            "/v1/import/resources",
            files={"file": ("people.csv", CSV_TEXT.encode(), "text/csv")},
            data={"options": json.dumps(options)},
        )
        assert answer.status_code == 202, answer.text
        job_id = str(answer.json()["job_id"])
        wait_for(
            lambda: api.get(f"/v1/jobs/{job_id}").json()["status"] == "completed",
            timeout=60,
            what="the import finished",
        )
    return job_id


def _bar(page: Page, job_id: str) -> int:
    bar = page.locator(f'.pcf-progress[data-job="{job_id}"] progress')
    return int(bar.evaluate("e => e.value"))


def _wait_bar(page: Page, job_id: str, value: int) -> None:
    """Wait (no reload) until the page's own poller has moved the bar to `value`."""
    page.wait_for_function(
        '([id, v]) => document.querySelector(`.pcf-progress[data-job="${id}"] progress`)'
        ".value === v",
        arg=[job_id, value],
    )


def _open_gate(job_id: str, chunks: int) -> None:
    """Let the gated job's chunks with seq < `chunks` finish (tests.jobs.handlers)."""
    redis_client().set(gate_key(job_id), chunks, ex=600)


def test_operator_console(
    admin_page: Page, server: LiveServer, celery_worker: Workers, tmp_path: Path
) -> None:
    page = admin_page
    tenant = Tenant("acme-e2e")
    # given a finished import with two invalid rows, and a running job whose four
    # chunks real workers finish only as the test opens their gate
    finished = _import_with_errors(server, tenant)
    running = make_job(
        tenant.client_model, [{"rows": 10}] * 4, handler="test.gated", type="bulk_update"
    ).id
    try:
        # when the operator opens the job list, filtered to running jobs
        page.goto("/admin/jobs/job/")
        expect(page.locator(f'a:text-is("{finished}")')).to_be_visible()
        page.click("#changelist-filter a:text-is('Processing')")
        # then only the running job is listed, with its progress bar
        expect(page.locator("#result_list tbody tr")).to_have_count(1)
        expect(page.locator(f'.pcf-progress[data-job="{running}"]')).to_be_visible()

        # when they open the running job and its chunks finish one by one
        page.click(f'a:text-is("{running}")')
        expect(page.locator("h2", has_text="Chunks")).to_be_visible()
        assert _bar(page, running) == 0
        _open_gate(running, 1)
        _wait_bar(page, running, 25)
        _open_gate(running, 2)
        # then the bar moves by itself, chunk by chunk, and rows/s appears
        _wait_bar(page, running, 50)
        expect(page.locator(f'[data-job-rate="{running}"]')).not_to_have_text("-")

        # when they open the live tenants page from the admin index
        page.goto("/admin/")
        page.click("a:text-is('Live tenants')")
        # then the tenant is there with its running job, at 50%
        tenant_box = page.locator(".live-tenant", has_text="acme-e2e")
        expect(tenant_box).to_contain_text(running)
        expect(tenant_box.locator(f'.pcf-progress[data-job="{running}"]')).to_contain_text("50%")

        # when they cancel the running job with the list's action
        page.goto("/admin/jobs/job/?status__exact=processing")
        page.check(f'input[name="_selected_action"][value="{running}"]')
        page.select_option("select[name=action]", "cancel_jobs")
        page.click("button[name=index]")
        # then the console says so, and the job is cancelled
        expect(page.locator(".messagelist")).to_contain_text(f"1 job(s) cancelled: {running}")
        assert Job.objects.get(pk=running).status == "cancelled"
        # and once the chunks already running commit, its page shows it settled
        _open_gate(running, 4)
        wait_for(
            lambda: Job.objects.get(pk=running).finished_at is not None,
            timeout=60,
            what="the cancelled job settled",
        )
        page.goto(f"/admin/jobs/job/{quote(running)}/change/")
        expect(page.locator(".field-status .readonly")).to_have_text("Cancelled")

        # when they open the finished import and download its errors as CSV
        page.goto(f"/admin/jobs/job/{quote(finished)}/change/")
        assert _bar(page, finished) == 100
        expect(page.locator("#job-errors tbody tr")).to_have_count(2)
        with page.expect_download() as download:
            page.click("#job-errors a:text-is('Download all as CSV')")
        saved = tmp_path / "errors.csv"
        download.value.save_as(saved)
        # then the file holds the two invalid rows, as the API's CSV does
        rows = list(csv.reader(io.StringIO(saved.read_text())))
        assert rows[0] == ["row", "index", "field", "code", "message", "values"]
        assert [(r[0], r[2]) for r in rows[1:]] == [("2", "type"), ("4", "name")]
        assert download.value.suggested_filename == f"{finished}-errors.csv"
    finally:
        _open_gate(running, 4)  # never leave a worker waiting at the gate
