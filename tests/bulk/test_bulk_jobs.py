"""Matched sets above PCF_BULK_SYNC_LIMIT run as bulk_update / bulk_delete jobs, chunked
by seq ranges, on real Celery worker processes. (The sync-vs-job decision and the chunk
plan are made in the request, so override_settings reaches them; workers only apply
chunks.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from jobs.models import Chunk
from resources.models import Resource
from tests.factories import ResourceFactory
from tests.waiting import wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SMALL_JOBS = override_settings(PCF_BULK_SYNC_LIMIT=5, PCF_BULK_CHUNK_ROWS=4)


def _make(tenant, n: int, **fields: Any) -> list[Resource]:
    return [ResourceFactory.create(tenant=tenant.client_model, **fields) for _ in range(n)]


@SMALL_JOBS
def test_bulk_update_job_with_limit(api, tenant, other_tenant, celery_worker):
    # given: 12 drafts here, 3 drafts in another tenant
    drafts = _make(tenant, 12, status="draft", metadata={"keep": True})
    theirs = _make(other_tenant, 3, status="draft")
    # when: the first 10 are to be archived, more than the in-request limit of 5
    response = api.post(
        "/v1/bulk-update/resources",
        {
            "filter": {"status": "draft"},
            "update": {"status": "archived", "metadata": {"by": "job"}},
            "options": {"limit": 10},
        },
        format="json",
    )
    # then: a job, cut into seq ranges of 4 matched rows (4 + 4 + 2)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"job_id", "status"}
    chunks = Chunk.objects.filter(job_id=body["job_id"]).order_by("seq")
    assert [c.row_count for c in chunks] == [4, 4, 2]
    assert chunks[2].payload["last_seq"] == drafts[9].seq
    job = wait_for_job(api, body["job_id"])
    assert job["type"] == "bulk_update"
    assert job["status"] == "completed"
    assert job["progress"]["successful"] == 10
    # and exactly the first 10 were updated, metadata merged; nothing of the other tenant
    done = Resource.objects.filter(tenant=tenant.client_model, status="archived")
    assert sorted(r.pk for r in done) == sorted(r.pk for r in drafts[:10])
    assert all(r.metadata == {"keep": True, "by": "job"} for r in done)
    assert Resource.objects.filter(pk__in=[r.pk for r in theirs], status="draft").count() == 3


@SMALL_JOBS
def test_bulk_delete_job_soft_and_hard(api, tenant, other_tenant, celery_worker):
    # given
    _make(tenant, 9, status="archived")
    _make(tenant, 2, status="active")
    _make(other_tenant, 7, status="archived")
    # when: a soft delete of the 9 archived, then a hard delete of what is live
    soft = api.post(
        "/v1/bulk-delete/resources",
        {"filter": {"status": "archived"}, "options": {"soft_delete": True}},
        format="json",
    )
    soft_job = wait_for_job(api, soft.json()["job_id"])
    hard = api.post(
        "/v1/bulk-delete/resources",
        {"filter": {"all": True}, "options": {"limit": 100}},
        format="json",
    )
    # then: the soft job kept the rows; the second set (2 live rows) ran in the request
    assert soft.status_code == 202
    assert (soft_job["type"], soft_job["status"]) == ("bulk_delete", "completed")
    assert soft_job["progress"]["successful"] == 9
    mine = Resource.objects.filter(tenant=tenant.client_model)
    assert mine.filter(deleted_at__isnull=False).count() == 9
    assert hard.status_code == 200
    assert hard.json()["deleted_count"] == 2
    assert mine.count() == 9
    assert Resource.objects.filter(tenant=other_tenant.client_model, deleted_at=None).count() == 7


@SMALL_JOBS
def test_hard_delete_job_and_dry_run_above_the_limit(api, tenant, celery_worker):
    # given
    _make(tenant, 11, type="video")
    # when: a dry run first (never a job), then the delete
    dry = api.post(
        "/v1/bulk-delete/resources",
        {"filter": {"type": "VIDEO"}, "options": {"dry_run": True}},
        format="json",
    )
    real = api.post("/v1/bulk-delete/resources", {"filter": {"type": "video"}}, format="json")
    job = wait_for_job(api, real.json()["job_id"])
    # then
    assert dry.status_code == 200
    assert (dry.json()["matched_count"], dry.json()["deleted_count"]) == (11, 0)
    assert job["status"] == "completed"
    assert job["progress"]["total"] == 11
    assert not Resource.objects.exists()


@SMALL_JOBS
def test_graphql_bulk_delete_above_the_limit_is_a_job(api, tenant, celery_worker):
    # given
    _make(tenant, 6, status="archived")
    # when
    response = api.post(
        "/v1/graphql",
        {
            "query": 'mutation { bulkDeleteResources(filter: {status: "archived"}) '
            "{ deletedCount matchedCount jobId } }"
        },
        format="json",
    )
    # then
    result = response.json()["data"]["bulkDeleteResources"]
    assert (result["deletedCount"], result["matchedCount"]) == (0, 6)
    assert wait_for_job(api, result["jobId"])["status"] == "completed"
    assert not Resource.objects.exists()
