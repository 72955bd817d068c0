"""The admin as an operator's console (jobs/admin.py): the job list with its filters,
progress and rows/s; the job page with its chunks, errors and webhook attempts; the
actions; the errors CSV; the progress poll; the live tenants page. The same console in
a real browser is tests/e2e/test_admin_console.py."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from jobs.engine import execution
from jobs.models import Chunk, Job, JobError, WebhookMessage
from jobs.parsing import parse_webhook_option
from tests.jobs.helpers import make_job
from tests.tenants import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = "/admin/jobs/job/"


def _finished_with_errors(tenant: Any) -> Job:
    job = make_job(tenant.client_model, [{"names": ["a", "bad-b", "bad-c"]}])
    execution.chunk_run(chunk_id=Chunk.objects.get(job=job).pk)
    job.refresh_from_db()
    return job


def _page(job: Job, view: str = "change/") -> str:
    """The URL of one of the job's admin pages (the admin quotes the "_" of ids)."""
    return f"{JOBS}{quote(job.pk)}/{view}"


def _messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_job_list_filters_by_tenant_type_status_and_date(admin_client, tenant) -> None:
    # given a finished job of tenant a, a running one of tenant b, and an old one
    done = _finished_with_errors(tenant)
    other = Tenant("tenant-b")
    running = make_job(other.client_model, [{"names": ["x"]}], type="bulk_update")
    old = make_job(tenant.client_model, [{"names": ["y"]}])
    Job.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))

    def listed(**params: Any) -> set[str]:
        response = admin_client.get(JOBS, params)
        assert response.status_code == 200
        return {job.pk for job in response.context["cl"].result_list}

    # when the operator filters the list each way / then only the matching jobs show
    assert listed() == {done.pk, running.pk, old.pk}
    assert listed(tenant__id__exact=other.client_model.pk) == {running.pk}
    assert listed(type="bulk_update") == {running.pk}
    assert listed(status__exact="completed") == {done.pk}
    # (the date filter's "past 7 days" link, as the page offers it)
    page = admin_client.get(JOBS).content.decode()
    assert "created_at__gte=" in page and "Past 7 days" in page
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    assert listed(created_at__gte=str(midnight - timedelta(days=7))) == {done.pk, running.pk}
    # and each row has a progress bar, rows/s, and the page polls for progress
    page = admin_client.get(JOBS).content.decode()
    assert f'class="pcf-progress" data-job="{done.pk}" data-finished="1"' in page
    assert f'class="pcf-progress" data-job="{running.pk}" data-finished="0"' in page
    assert f'data-job-rate="{done.pk}"' in page
    assert "jobs/progress.js" in page


def test_job_list_queries_do_not_grow_with_its_rows(
    admin_client, tenant, django_assert_max_num_queries
) -> None:
    # given a page of jobs across several tenants
    for index in range(3):
        owner = Tenant(f"tenant-{index}").client_model
        for _ in range(10):
            make_job(owner, [{"names": ["a"]}])
    # when the operator opens the list / then a fixed number of queries serve it
    with django_assert_max_num_queries(15):
        response = admin_client.get(JOBS)
    assert len(response.context["cl"].result_list) == 30


def test_job_page_shows_chunks_errors_deliveries_and_csv_link(admin_client, tenant) -> None:
    # given a finished job with error rows
    job = _finished_with_errors(tenant)
    # when the operator opens the job page
    response = admin_client.get(_page(job))
    body = response.content.decode()
    # then it shows its chunks, its errors and its webhook attempts, each linked to its list
    assert response.status_code == 200
    assert 'id="job-chunks"' in body and 'id="job-deliveries"' in body
    assert "bad name" in body
    for kind in ("chunk", "joberror", "webhookdelivery"):
        assert f"/admin/jobs/{kind}/?job__id__exact={job.pk}" in body
    # and a link to its errors as CSV, with no save button on this read-only page
    assert _page(job, "errors.csv") in body
    assert 'name="_save"' not in body
    # and the chunk and error lists it links to are one job's, paginated
    errors = admin_client.get("/admin/jobs/joberror/", {"job__id__exact": job.pk})
    chunks = admin_client.get("/admin/jobs/chunk/", {"job__id__exact": job.pk})
    assert errors.status_code == 200 and "bad name" in errors.content.decode()
    assert chunks.status_code == 200 and "done" in chunks.content.decode()
    internal = {"job__id__exact": job.pk, "code": "INTERNAL"}
    coded = admin_client.get("/admin/jobs/joberror/", internal)
    assert "bad name" not in coded.content.decode()


def test_lists_count_up_to_a_cap(admin_client, tenant, settings) -> None:
    # given a job with more error rows than the lists count (the cap lowered to 150)
    from jobs import admin as jobs_admin

    job = make_job(tenant.client_model, [], start=False)
    JobError.objects.bulk_create(
        JobError(job=job, row=i, field="name", message=f"problem-{i}") for i in range(200)
    )
    original = jobs_admin.CappedCountPaginator.cap
    jobs_admin.CappedCountPaginator.cap = 150
    try:
        # when the operator opens its error list
        page = admin_client.get(f"/admin/jobs/joberror/?job__id__exact={job.pk}")
    finally:
        jobs_admin.CappedCountPaginator.cap = original
    # then it says "at least 150" and pages through those
    assert page.context["cl"].result_count == 150
    assert "at least 150 job errors" in page.content.decode()


def test_a_job_with_many_errors_pages_them(
    admin_client, tenant, django_assert_max_num_queries
) -> None:
    # given a job with 5,000 error rows (a million works the same way)
    job = make_job(tenant.client_model, [], start=False)
    JobError.objects.bulk_create(
        JobError(job=job, row=i, field="name", message=f"problem-{i}") for i in range(5000)
    )
    # when an operator opens the job page, then its errors
    with django_assert_max_num_queries(20):
        page = admin_client.get(_page(job))
    errors = admin_client.get(f"/admin/jobs/joberror/?job__id__exact={job.pk}")
    # then the job page shows the first 20 of them, and the error list one page of 100
    assert page.status_code == 200
    assert page.content.decode().count("problem-") == 20
    assert errors.status_code == 200
    assert errors.content.decode().count("problem-") == 100
    last_page = admin_client.get(f"/admin/jobs/joberror/?job__id__exact={job.pk}&p=50")
    assert "problem-4999" in last_page.content.decode()


def test_errors_csv_download_is_for_staff(admin_client, client, tenant) -> None:
    # given a finished job with two error rows
    job = _finished_with_errors(tenant)
    url = _page(job, "errors.csv")
    # when staff download its errors
    response = admin_client.get(url)
    # then they get the same CSV as the API's
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{job.pk}-errors.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["row", "index", "field", "code", "message", "values"]
    assert [(r[0], r[4]) for r in rows[1:]] == [("2", "bad name"), ("3", "bad name")]
    assert rows[2][5] == '["bad-c"]'
    # and neither an anonymous browser nor the tenant's bearer token gets it
    assert client.get(url).status_code == 302
    assert client.get(url, headers=tenant.auth_header).status_code == 302


def test_progress_poll_answers_the_jobs_asked(admin_client, client, tenant) -> None:
    # given a finished job and a running one
    done = _finished_with_errors(tenant)
    running = make_job(tenant.client_model, [{"names": ["a"]}, {"names": ["b"]}])
    execution.chunk_run(chunk_id=Chunk.objects.get(job=running, seq=0).pk)
    # when the page's poller asks about both
    answer = admin_client.get(f"{JOBS}progress/", {"id": [done.pk, running.pk, "job_nope"]})
    # then it gets each one's progress, and nothing for an unknown id
    jobs = answer.json()["jobs"]
    assert set(jobs) == {done.pk, running.pk}
    assert (jobs[done.pk]["finished"], jobs[done.pk]["percentage"]) == (True, 100)
    assert jobs[running.pk]["processed"] == 1 and jobs[running.pk]["percentage"] == 50
    assert jobs[running.pk]["finished"] is False
    # and only for a staff login
    assert client.get(f"{JOBS}progress/", {"id": done.pk}).status_code == 302


def test_rerun_failed_chunks_then_cancel_action(admin_client, tenant) -> None:
    # given a job whose first chunk failed
    job = make_job(tenant.client_model, [{"names": ["a", "b"]}, {"names": ["c"]}])
    first, second = Chunk.objects.filter(job=job).order_by("seq")
    execution.record_failure(chunk_id=first.pk, message="database error: boom")
    execution.chunk_run(chunk_id=second.pk)
    job.refresh_from_db()
    assert (job.status, job.failed) == ("failed", 2)
    # when the operator re-runs its failed chunks
    response = admin_client.post(
        JOBS, {"action": "rerun_failed_chunks", "_selected_action": [job.pk]}, follow=True
    )
    # then the chunk is pending again with its counts undone, and the message says so
    assert f"1 job(s) re-running failed chunks: {job.pk} (1 chunk(s))" in _messages(response)
    job.refresh_from_db()
    assert (job.status, job.processed, job.failed) == ("processing", 1, 0)
    execution.chunk_run(chunk_id=first.pk)
    job.refresh_from_db()
    assert (job.status, job.processed, job.successful, job.failed) == ("completed", 3, 3, 0)
    # when the operator cancels that finished job and a running one together
    other = make_job(tenant.client_model, [{"names": ["x"]}])
    response = admin_client.post(
        JOBS, {"action": "cancel_jobs", "_selected_action": [job.pk, other.pk]}, follow=True
    )
    # then the running one is cancelled and the finished one left alone, both reported
    other.refresh_from_db()
    job.refresh_from_db()
    assert (other.status, job.status) == ("cancelled", "completed")
    said = _messages(response)
    assert f"1 job(s) cancelled: {other.pk}" in said
    assert f"1 job(s) left alone: Job {job.pk} is already completed" in said
    # and re-running a job with no failed chunk says so
    response = admin_client.post(
        JOBS, {"action": "rerun_failed_chunks", "_selected_action": [job.pk]}, follow=True
    )
    assert f"1 job(s) had no failed chunk: {job.pk}" in _messages(response)


def test_resend_webhook_action(admin_client, tenant, allow_private_webhooks) -> None:
    # given a finished job whose webhook was given up, and a running job
    job = make_job(
        tenant.client_model,
        [{"names": ["a"]}],
        webhook=parse_webhook_option({"url": "http://127.0.0.1:9/hook"}),
    )
    execution.chunk_run(chunk_id=Chunk.objects.get(job=job).pk)
    WebhookMessage.objects.filter(job=job).update(status="failed")
    running = make_job(tenant.client_model, [{"names": ["b"]}])
    # when the operator re-sends both jobs' webhooks
    response = admin_client.post(
        JOBS, {"action": "resend_webhooks", "_selected_action": [job.pk, running.pk]}, follow=True
    )
    # then the finished job has a new pending message and the running one none
    said = _messages(response)
    assert any(s.startswith(f"1 job(s) webhook queued again: {job.pk} (bulk_import.completed")
               for s in said)  # fmt: skip
    assert any(running.pk in s and "left alone" in s for s in said)
    statuses = sorted(WebhookMessage.objects.filter(job=job).values_list("status", flat=True))
    assert statuses == ["failed", "pending"]
    assert not WebhookMessage.objects.filter(job=running).exists()


def test_actions_need_the_change_permission(client, tenant) -> None:
    # given a staff user who may only view jobs, and a running job
    viewer = User.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(viewer)
    job = make_job(tenant.client_model, [{"names": ["a"]}])
    # when they open the list / then it offers no action, and posting one does nothing
    page = client.get(JOBS)
    assert page.status_code == 200 and "cancel_jobs" not in page.content.decode()
    client.post(JOBS, {"action": "cancel_jobs", "_selected_action": [job.pk]})
    job.refresh_from_db()
    assert job.status == "processing"


def test_live_tenants_page(admin_client: Client, tenant) -> None:
    # given a running job of tenant a, and a finished one of tenant b
    running = make_job(tenant.client_model, [{"names": ["a"]}, {"names": ["b"]}])
    other = Tenant("tenant-quiet")
    _finished_with_errors(other)
    # when the operator opens the admin index and follows the live tenants entry
    index = admin_client.get("/admin/").content.decode()
    assert "/admin/jobs/livetenant/" in index
    page = admin_client.get("/admin/jobs/livetenant/")
    body = page.content.decode()
    # then tenant a is listed with its running job and a live progress bar, b is not
    assert page.status_code == 200
    assert "tenant-a" in body and "tenant-quiet" not in body
    assert _page(running) in body
    assert f'data-job="{running.pk}" data-finished="0"' in body
