"""Async batches: 202 and a `batch` job whose one chunk the engine runs through the
batch chunk handler (called here through the engine's own chunk_run)."""

from __future__ import annotations

import pytest

from jobs.engine.execution import chunk_run
from jobs.models import Chunk, Job
from resources.models import Resource
from tests.batch.helpers import create, post_batch


def run_job_chunks(job_id: str) -> Job:
    for chunk in Chunk.objects.filter(job_id=job_id).order_by("seq"):
        chunk_run(chunk_id=chunk.pk)
    return Job.objects.get(pk=job_id)


@pytest.mark.django_db
def test_async_batch_answers_202_then_runs_as_a_job(api, make_resource):
    # given
    make_resource("existing_123")
    ops = [
        create("a"),
        {"method": "PATCH", "path": "/resources/existing_123", "body": {"status": "archived"}},
        {"method": "GET", "path": "/resources/missing"},
    ]
    # when: posted with async
    response = post_batch(api, ops, **{"async": True})
    # then: 202 with the job, nothing done yet
    assert response.status_code == 202
    body = response.json()
    assert body["job_id"].startswith("job_") and body["status"] in ("queued", "processing")
    assert not Resource.objects.filter(name="a").exists()
    job = Job.objects.get(pk=body["job_id"])
    assert (job.type, job.total) == ("batch", 3)
    # when: the engine runs the chunk
    job = run_job_chunks(job.id)
    # then: applied, with the synchronous answer's shape stored for /results
    assert job.status == "completed"
    assert Resource.objects.filter(name="a").exists()
    result = Chunk.objects.get(job=job).result
    assert [r["status"] for r in result["results"]] == [201, 200, 404]
    assert result["results"][2]["originalOperation"] == ops[2]
    assert result["meta"]["total_operations"] == 3
    assert (result["meta"]["successful"], result["meta"]["failed"]) == (2, 1)
    assert (job.successful, job.failed) == (2, 1)


@pytest.mark.django_db
def test_async_atomic_batch_rolled_back_fails_the_job(api):
    # when: an atomic async batch whose second operation fails
    response = post_batch(
        api,
        [create("a"), {"method": "DELETE", "path": "/resources/nope"}, create("b")],
        atomic=True,
        **{"async": True},
    )
    job = run_job_chunks(response.json()["job_id"])
    # then: the job failed, nothing was written, results say why
    assert job.status == "failed"
    assert "op2" in job.message
    assert not Resource.objects.exists()
    result = Chunk.objects.get(job=job).result
    codes = [r["error"]["code"] for r in result["results"]]
    assert codes == ["ROLLED_BACK", "NOT_FOUND", "SKIPPED"]


@pytest.mark.django_db
def test_async_suppress_success_and_references(api):
    response = post_batch(
        api,
        [
            create("a"),
            {"method": "GET", "path": "/resources/{op1.body.data.id}"},
            {"method": "GET", "path": "/resources/nope"},
        ],
        suppress_success=True,
        **{"async": True},
    )
    job = run_job_chunks(response.json()["job_id"])
    result = Chunk.objects.get(job=job).result
    assert [r["id"] for r in result["results"]] == ["op3"]
    assert result["meta"]["successful"] == 2


@pytest.mark.django_db
def test_batch_with_a_webhook_runs_as_a_job(api):
    # when: the cookbook's webhook example (no async flag)
    response = api.post(
        "/v1/batch",
        {
            "operations": [create("a")],
            "options": {
                "webhook": {
                    "url": "https://webhook.example.com/batch-complete",
                    "events": ["completed", "failed"],
                    "headers": {"X-Webhook-Secret": "secret_key"},
                }
            },
        },
        format="json",
    )
    # then: 202 and the job carries the webhook
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job_id"])
    assert job.webhook["url"] == "https://webhook.example.com/batch-complete"


@pytest.mark.django_db
def test_invalid_webhook_is_400(api):
    response = post_batch(api, [create("a")], webhook={"url": "ftp://x"})
    assert response.status_code == 400
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_async_limits_are_checked_before_the_job_exists(api):
    response = post_batch(api, [create() for _ in range(1001)], **{"async": True})
    assert response.status_code == 413
    assert not Job.objects.exists()
