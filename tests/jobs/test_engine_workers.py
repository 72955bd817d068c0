"""The engine with real worker processes: exact counts, crashes, lost queues, cancel."""

from __future__ import annotations

import pytest

from jobs.models import Chunk, ChunkStatus, JobError
from resources.models import Resource
from tests.jobs.conftest import make_job, wait_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _names(chunk: int, size: int) -> list[str]:
    return [f"r-{chunk}-{i}" for i in range(size)]


def test_job_of_many_chunks_completes_with_exact_counts(tenant, celery_worker) -> None:
    # given 20 chunks of 10 rows, one bad row in every fourth chunk
    chunks = []
    for c in range(20):
        names = _names(c, 10)
        if c % 4 == 0:
            names[3] = f"bad-{c}"
        chunks.append({"names": names})
    # when the job starts
    job = make_job(tenant.client_model, chunks)
    # then it completes with every row counted once
    job = wait_finished(job)
    assert job.status == "completed"
    assert (job.total, job.processed, job.successful, job.failed) == (200, 200, 195, 5)
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 195
    assert JobError.objects.filter(job=job).count() == 5
    assert set(Chunk.objects.filter(job=job).values_list("status", flat=True)) == {ChunkStatus.DONE}
    assert job.summary == {
        "total_operations": 200,
        "successful": 195,
        "failed": 5,
        "duration_ms": job.summary["duration_ms"],
    }
