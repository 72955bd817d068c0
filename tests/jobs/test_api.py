"""The job REST endpoints: job object, list, errors (JSON and CSV), results, secrets,
and tenant isolation on every path."""

from __future__ import annotations

import csv
import io

import pytest

from jobs.engine import execution, lifecycle
from jobs.handlers import RowError
from jobs.models import Chunk
from tests.jobs.helpers import make_job

pytestmark = pytest.mark.django_db(transaction=True)


def run_all_chunks(job) -> None:
    # Runs the chunks in this process: the same service the worker task calls.
    for chunk in Chunk.objects.filter(job=job).order_by("seq"):
        execution.chunk_run(chunk_id=chunk.pk)
    job.refresh_from_db()


def test_job_object_has_the_cookbook_shape(tenant) -> None:
    # given a job run to the end
    job = make_job(tenant.client_model, [{"names": ["a", "b", "bad-c"]}, {"names": ["d"]}])
    run_all_chunks(job)
    # when it is read
    body = tenant.api.get(f"/v1/jobs/{job.id}").json()
    # then it has the cookbook's fields
    assert body["id"] == job.id and body["id"].startswith("job_")
    assert body["type"] == "bulk_import" and body["status"] == "completed"
    assert body["progress"] == {
        "total": 4,
        "processed": 4,
        "successful": 3,
        "failed": 1,
        "skipped": 0,
        "percentage": 100,
    }
    for key in ("created_at", "started_at", "finished_at"):
        assert body[key].endswith("Z")
    assert body["estimated_completion"] is None
    assert body["rows_per_second"] > 0


def test_estimated_completion_comes_from_the_measured_rate(tenant) -> None:
    # given a job half done
    job = make_job(tenant.client_model, [{"names": ["a"]}, {"names": ["b"]}])
    execution.chunk_run(chunk_id=Chunk.objects.get(job=job, seq=0).pk)
    # when it is read
    body = tenant.api.get(f"/v1/jobs/{job.id}").json()
    # then it is processing, 50 %, with an estimate in the future
    assert body["status"] == "processing" and body["progress"]["percentage"] == 50
    assert body["estimated_completion"] >= body["started_at"]


def test_list_filters_and_paginates(tenant, other_tenant) -> None:
    # given jobs of several types and statuses, and another tenant's job
    done = make_job(tenant.client_model, [{"names": ["a"]}], type="batch")
    run_all_chunks(done)
    queued = [make_job(tenant.client_model, [], start=False) for _ in range(3)]
    make_job(other_tenant.client_model, [], start=False)
    # when listing by status and type
    by_status = tenant.api.get("/v1/jobs?status=completed").json()["data"]
    by_type = tenant.api.get("/v1/jobs?type=bulk_import").json()["data"]
    # then only the matching jobs of this tenant come back
    assert [j["id"] for j in by_status] == [done.id]
    assert {j["id"] for j in by_type} == {j.id for j in queued}
    # and pages of 3 walk all four jobs, newest first, without repeats
    first = tenant.api.get("/v1/jobs?limit=3").json()
    second = tenant.api.get(f"/v1/jobs?limit=3&cursor={first['meta']['next_cursor']}").json()
    ids = [j["id"] for j in first["data"] + second["data"]]
    assert len(ids) == 4 == len(set(ids))
    assert second["meta"]["next_cursor"] is None
    # and unknown filter values are validation errors
    assert tenant.api.get("/v1/jobs?status=bogus").status_code == 400
    assert tenant.api.get("/v1/jobs?cursor=%%%").status_code == 400


def test_errors_are_paginated_with_row_field_message_values(tenant) -> None:
    # given a job with three failed rows
    job = make_job(tenant.client_model, [{"names": ["bad-1", "ok", "bad-2", "bad-3"]}])
    run_all_chunks(job)
    # when its errors are read two at a time
    first = tenant.api.get(f"/v1/jobs/{job.id}/errors?limit=2").json()
    second = tenant.api.get(
        f"/v1/jobs/{job.id}/errors?limit=2&cursor={first['meta']['next_cursor']}"
    ).json()
    # then every failed row comes once, in order, with its original values
    rows = first["data"] + second["data"]
    assert [e["row"] for e in rows] == [1, 3, 4]
    assert rows[0] == {
        "row": 1,
        "field": "name",
        "code": "VALIDATION_ERROR",
        "message": "bad name",
        "values": ["bad-1"],
    }
    assert second["meta"]["next_cursor"] is None


def test_errors_csv_neutralises_spreadsheet_formulas(tenant) -> None:
    # given a failed job whose error cells start like formulas
    job = make_job(tenant.client_model, [], start=False)
    lifecycle.job_fail(
        job=job,
        message="strict validation failed",
        errors=[
            RowError(
                field='=HYPERLINK("http://x")',
                message="+1+1",
                row=1,
                values={"name": "=cmd|' /C calc'!A0"},
            ),
            RowError(field="name", message="@SUM(A1)", index=0, values="-2"),
        ],
    )
    # when they are downloaded as CSV
    response = tenant.api.get(f"/v1/jobs/{job.id}/errors?format=csv")
    # then it is a CSV attachment where no cell starts a formula
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["row", "index", "field", "code", "message", "values"]
    assert rows[1][2] == '\'=HYPERLINK("http://x")' and rows[1][4] == "'+1+1"
    assert rows[1][5].startswith("{") and "'=cmd" not in rows[1][5]
    assert rows[2][4] == "'@SUM(A1)" and rows[2][5] == "'-2"
    for row in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
    # and the job itself reads as failed with that message
    assert tenant.api.get(f"/v1/jobs/{job.id}").json()["message"] == "strict validation failed"


def test_results_concatenate_chunks_in_order_and_sum_meta(tenant) -> None:
    # given a batch-like job of two chunks
    job = make_job(tenant.client_model, [{"names": ["a", "bad"]}, {"names": ["b"]}], type="batch")
    # when it is still processing, results are not there yet
    assert tenant.api.get(f"/v1/jobs/{job.id}/results").status_code == 409
    run_all_chunks(job)
    # then the results come by chunk order with meta summed
    body = tenant.api.get(f"/v1/jobs/{job.id}/results").json()
    assert body["results"] == [{"name": "a"}, {"name": "b"}]
    assert body["meta"] == {"successful": 2, "failed": 1}


def test_cancel_a_queued_job_and_conflict_when_finished(tenant) -> None:
    # given a queued job with undispatched chunks
    job = make_job(tenant.client_model, [{"names": ["a"]}], start=False)
    # when it is cancelled
    response = tenant.api.post(f"/v1/jobs/{job.id}/cancel")
    # then it is cancelled and its chunk never runs
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert Chunk.objects.get(job=job).status == "cancelled"
    assert execution.chunk_run(chunk_id=Chunk.objects.get(job=job).pk).startswith("skipped")
    # and a second cancel is a 409 CONFLICT
    again = tenant.api.post(f"/v1/jobs/{job.id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"


def test_a_chunk_already_done_is_never_applied_twice(tenant) -> None:
    # given a chunk that ran
    job = make_job(tenant.client_model, [{"names": ["a", "b"]}, {"names": ["c"]}])
    chunk = Chunk.objects.get(job=job, seq=0)
    execution.chunk_run(chunk_id=chunk.pk)
    # when its task is delivered again (redelivery, sweeper)
    outcome = execution.chunk_run(chunk_id=chunk.pk)
    # then nothing happens
    assert outcome.startswith("skipped")
    job.refresh_from_db()
    assert (job.processed, job.chunks_finished) == (2, 1)


def test_webhook_secret_show_and_rotate(tenant, other_tenant) -> None:
    # given a tenant's secret
    shown = tenant.api.get("/v1/webhooks/secret").json()
    assert shown["secret"] == tenant.client_model.webhook_secret
    assert shown["secret"] != other_tenant.api.get("/v1/webhooks/secret").json()["secret"]
    # when it is rotated
    rotated = tenant.api.post("/v1/webhooks/secret/rotate").json()
    # then a new secret is in force
    assert rotated["secret"] != shown["secret"]
    assert tenant.api.get("/v1/webhooks/secret").json()["secret"] == rotated["secret"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("get", "/errors"),
        ("get", "/errors?format=csv"),
        ("get", "/results"),
        ("get", "/webhooks"),
        ("post", "/cancel"),
    ],
)
def test_another_tenants_job_is_404_everywhere(tenant, other_tenant, method, suffix) -> None:
    # given a job of one tenant
    job = make_job(tenant.client_model, [{"names": ["a"]}])
    run_all_chunks(job)
    # when another tenant asks for it
    response = getattr(other_tenant.api, method)(f"/v1/jobs/{job.id}{suffix}")
    # then it does not exist for them
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert job.id not in str(other_tenant.api.get("/v1/jobs").json())


def test_job_endpoints_need_a_token(anon) -> None:
    assert anon.get("/v1/jobs").status_code == 401
    assert anon.get("/v1/webhooks/secret").status_code == 401
