"""End to end with real Celery worker processes: upload → job → chunk tasks → rows."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jobs.models import Job, JobError
from resources.models import Resource
from tests.imports.helpers import COOKBOOK_CSV, COOKBOOK_OPTIONS, upload
from tests.waiting import wait_finished

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_cookbook_csv_runs_on_workers(celery_worker: Any, tenant: Any) -> None:
    # when
    response = upload(tenant.api, COOKBOOK_CSV, COOKBOOK_OPTIONS)
    # then
    job = wait_finished(response.json()["job_id"], timeout=120)
    assert (job.status, job.successful, job.failed) == ("completed", 3, 0)
    assert tenant.api.get(f"/v1/jobs/{job.id}").json()["progress"]["percentage"] == 100


def test_50k_row_lenient_import_has_exact_counts(celery_worker: Any, tenant: Any) -> None:
    # given: 50,000 rows, every 1,000th one invalid (bad type)
    lines = ["name,type,status,metadata"]
    for i in range(50_000):
        kind = "nope" if i % 1000 == 999 else "document"
        lines.append(f'"Row {i}",{kind},active,"{{""i"": {i}}}"')
    # when
    response = upload(
        tenant.api, "\n".join(lines) + "\n", {"validation": "lenient", "chunk_size": 2000}
    )
    assert response.status_code == 202, response.json()
    job = wait_finished(response.json()["job_id"], timeout=120)
    # then
    assert (job.status, job.total, job.processed, job.successful, job.failed) == (
        "completed",
        50_000,
        50_000,
        49_950,
        50,
    )
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 49_950
    rows = JobError.objects.filter(job=job).values_list("row", flat=True)
    assert sorted(row or 0 for row in rows)[:2] == [
        1000,
        2000,
    ]
    assert Resource.objects.get(name="Row 4242").metadata == {"i": 4242}


def _rows(count: int, bad_at: int | None = None) -> str:
    lines = ["name,type,status,metadata"]
    for i in range(count):
        kind = "nope" if i == bad_at else "document"
        lines.append(f'"Row {i}",{kind},active,"{{""i"": {i}}}"')
    return "\n".join(lines) + "\n"


def test_20k_row_strict_import_is_checked_on_workers_then_applied(
    celery_worker: Any, tenant: Any
) -> None:
    # when: a valid strict import of 20 chunks
    response = upload(tenant.api, _rows(20_000), {"validation": "strict", "chunk_size": 1000})
    assert response.status_code == 202, response.json()
    job = wait_finished(response.json()["job_id"], timeout=120)
    # then: every chunk was checked, then applied, with exact counts
    assert (job.status, job.total, job.successful, job.failed) == ("completed", 20_000, 20_000, 0)
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 20_000
    assert job.chunks_unchecked == 0 and job.check_failed == 0


def test_strict_import_with_one_bad_row_near_the_end_writes_nothing_on_workers(
    celery_worker: Any, tenant: Any
) -> None:
    # when: 20,000 rows, the 19,990th invalid
    body = _rows(20_000, bad_at=19_989)
    response = upload(tenant.api, body, {"validation": "strict", "chunk_size": 1000})
    job = wait_finished(response.json()["job_id"], timeout=120)
    # then: the job failed without writing a row, and says which row
    assert (job.status, job.total, job.failed, job.skipped) == ("failed", 20_000, 1, 19_999)
    assert not Resource.objects.filter(tenant=tenant.client_model).exists()
    assert list(JobError.objects.filter(job=job).values_list("row", "field")) == [(19_990, "type")]


def test_concurrent_upsert_imports_on_workers(celery_worker: Any, tenant: Any) -> None:
    # given: two imports of the same 2,000 new names, sent back to back
    body = "name,type\n" + "".join(f"same-{i},image\n" for i in range(2000))
    options = {"upsert": True, "upsert_key": "name", "validation": "lenient", "chunk_size": 100}
    # when
    first = upload(tenant.api, body, options).json()["job_id"]
    second = upload(tenant.api, body, options).json()["job_id"]
    # then: one resource per name
    for job_id in (first, second):
        job = wait_finished(job_id, timeout=120)
        assert (job.status, job.failed) == ("completed", 0)
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 2000


def test_lenient_upload_failing_late_leaves_no_rows(celery_worker: Any, tenant: Any) -> None:
    # given: 40,000 valid rows (~700 KB: several read pieces, 40 chunks of 1,000),
    # then a byte that is not UTF-8
    good = "name,type\n" + "".join(f"late-{i},image\n" for i in range(40_000))
    data = good.encode() + b"bad-\xff,image\n"
    # when: uploaded leniently while real workers are waiting for chunk tasks
    response = upload(tenant.api, data, {"validation": "lenient", "chunk_size": 1000})
    # then: a 400 naming the byte, the job failed, and no row was ever written
    assert response.status_code == 400, response.json()
    assert f"Invalid UTF-8 at byte {len(good.encode()) + 4}" in str(response.json())
    # Part of the scenario: give any chunk task that was (wrongly) sent the time to run;
    # a task that must not run has no event to wait for.
    time.sleep(2)
    (job,) = list(Job.objects.filter(tenant=tenant.client_model))
    assert job.status == "failed"
    assert job.chunks.count() >= 10  # chunks were stored before the bad byte was read
    assert set(job.chunks.values_list("status", flat=True)) == {"cancelled"}
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 0
