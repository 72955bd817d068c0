"""The jobs admin: list and job page render; cancel and re-run failed chunks work."""

from __future__ import annotations

import pytest

from jobs.engine import execution
from jobs.models import Chunk, JobError
from tests.jobs.helpers import make_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_job_list_and_page_render(admin_client, tenant) -> None:
    # given a finished job with an error row
    job = make_job(tenant.client_model, [{"names": ["a", "bad-b"]}])
    execution.chunk_run(chunk_id=Chunk.objects.get(job=job).pk)
    # when an operator opens the list (filtered) and the job page
    listing = admin_client.get("/admin/jobs/job/?status__exact=completed")
    page = admin_client.get(f"/admin/jobs/job/{job.pk}/change/")
    # then both show the job, its progress bar, chunks and errors
    assert listing.status_code == 200 and job.id in listing.content.decode()
    assert "<progress" in listing.content.decode()
    body = page.content.decode()
    assert page.status_code == 200
    assert "Celery task results" in body
    # and its errors and chunks are one click away, on their own lists
    errors = admin_client.get(f"/admin/jobs/joberror/?job__id__exact={job.pk}")
    chunks = admin_client.get(f"/admin/jobs/chunk/?job__id__exact={job.pk}")
    assert f"/admin/jobs/joberror/?job__id__exact={job.pk}" in body
    assert errors.status_code == 200 and "bad name" in errors.content.decode()
    assert chunks.status_code == 200 and "done" in chunks.content.decode()


def test_rerun_failed_chunks_then_cancel_action(admin_client, tenant) -> None:
    # given a job whose first chunk failed
    job = make_job(tenant.client_model, [{"names": ["a", "b"]}, {"names": ["c"]}])
    first, second = Chunk.objects.filter(job=job).order_by("seq")
    execution.record_failure(chunk_id=first.pk, message="database error: boom")
    execution.chunk_run(chunk_id=second.pk)
    job.refresh_from_db()
    assert (job.status, job.failed) == ("failed", 2)
    # when the operator re-runs its failed chunks
    admin_client.post(
        "/admin/jobs/job/", {"action": "rerun_failed_chunks", "_selected_action": [job.pk]}
    )
    # then the chunk is pending again with its counts undone, and running it completes the job
    job.refresh_from_db()
    assert (job.status, job.processed, job.failed) == ("processing", 1, 0)
    execution.chunk_run(chunk_id=first.pk)
    job.refresh_from_db()
    assert (job.status, job.processed, job.successful, job.failed) == ("completed", 3, 3, 0)
    # and the cancel action cancels a running job
    other = make_job(tenant.client_model, [{"names": ["x"]}])
    admin_client.post("/admin/jobs/job/", {"action": "cancel_jobs", "_selected_action": [other.pk]})
    other.refresh_from_db()
    assert other.status == "cancelled"


def test_a_job_with_many_errors_pages_them(admin_client, tenant) -> None:
    # given a job with 5,000 error rows (a million works the same way)
    job = make_job(tenant.client_model, [], start=False)
    JobError.objects.bulk_create(
        JobError(job=job, row=i, field="name", message=f"problem-{i}") for i in range(5000)
    )
    # when an operator opens the job page, then its errors
    page = admin_client.get(f"/admin/jobs/job/{job.pk}/change/")
    errors = admin_client.get(f"/admin/jobs/joberror/?job__id__exact={job.pk}")
    # then the job page lists none of them, and the error list shows one page of 100
    assert page.status_code == 200
    assert "problem-" not in page.content.decode()
    assert errors.status_code == 200
    shown = errors.content.decode().count("problem-")
    assert 0 < shown <= 100
    last_page = admin_client.get(f"/admin/jobs/joberror/?job__id__exact={job.pk}&p=49")
    assert "problem-" in last_page.content.decode()
