"""POST /v1/bulk/resources: the cookbook's JSON bulk import and its options."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from jobs.models import Job, JobError
from resources.models import Resource
from tests.imports.helpers import run_chunks

pytestmark = pytest.mark.django_db

COOKBOOK_BODY = {
    "resources": [
        {"name": "Resource 1", "type": "document", "metadata": {"key1": "value1"}},
        {"name": "Resource 2", "type": "image", "metadata": {"key2": "value2"}},
        {"name": "Resource 3", "type": "video", "metadata": {"key3": "value3"}},
    ],
    "options": {
        "upsert": True,
        "upsert_key": "name",
        "validate_before_import": True,
        "notification_webhook": "https://webhook.example.com/import-complete",
    },
}


def test_cookbook_bulk_example_twice_upserts_without_duplicates(tenant: Any) -> None:
    for _ in range(2):
        # when: the cookbook's request, as written
        response = tenant.api.post("/v1/bulk/resources", COOKBOOK_BODY, format="json")
        # then
        assert response.status_code == 202, response.json()
        body = response.json()
        assert set(body) >= {"job_id", "status", "total_rows", "processed"}
        assert body["total_rows"] == 3
        job = run_chunks(body["job_id"])
        assert job.type == "bulk_import" and job.status == "completed" and job.successful == 3
    # then: one resource per name
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 3
    latest = Job.objects.order_by("-created_at").first()
    assert latest is not None
    assert latest.webhook["url"] == "https://webhook.example.com/import-complete"


def test_validate_before_import_lists_every_bad_item_and_writes_nothing(tenant: Any) -> None:
    # given
    body = {
        "resources": [
            {"name": "ok", "type": "document"},
            {"type": "document"},
            {"name": "x", "type": "spreadsheet", "metadata": []},
        ],
        "options": {"validate_before_import": True},
    }
    # when
    response = tenant.api.post("/v1/bulk/resources", body, format="json")
    # then
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert {(d["index"], d["field"]) for d in details} == {
        (1, "name"),
        (2, "type"),
        (2, "metadata"),
    }
    assert Resource.objects.count() == 0 and Job.objects.count() == 0


def test_without_validate_before_import_bad_items_are_row_errors(tenant: Any) -> None:
    # given
    body = {"resources": [{"name": "ok", "type": "document"}, {"name": "", "type": "image"}, 7]}
    # when
    response = tenant.api.post("/v1/bulk/resources", body, format="json")
    job = run_chunks(response.json()["job_id"])
    # then
    assert (job.status, job.successful, job.failed) == ("completed", 1, 2)
    indexes = JobError.objects.filter(job=job).values_list("index", flat=True)
    assert sorted(i or 0 for i in indexes) == [1, 2]
    assert JobError.objects.get(job=job, index=1).values == {"name": "", "type": "image"}


@override_settings(PCF_BULK_MAX_ITEMS=5)
def test_limits_and_envelope(tenant: Any) -> None:
    item = {"name": "a", "type": "document"}
    # when/then: over the limit
    response = tenant.api.post("/v1/bulk/resources", {"resources": [item] * 6}, format="json")
    assert response.status_code == 413 and response.json()["error"]["code"] == "BATCH_TOO_LARGE"
    # empty list, not a list, unknown option, bad upsert_key, bad webhook, bad chunk_size
    bad_bodies: list[Any] = [
        {"resources": []},
        {"resources": {}},
        {"resources": [item], "options": {"nope": 1}},
        {"resources": [item], "options": {"upsert_key": "email"}},
        {"resources": [item], "options": {"notification_webhook": "ftp://x"}},
        # `webhook` wins over notification_webhook, but a bad one is never let through
        {
            "resources": [item],
            "options": {
                "webhook": "https://webhook.example.com/a",
                "notification_webhook": {"url": "https://webhook.example.com/b", "headers": []},
            },
        },
        {"resources": [item], "options": {"chunk_size": 0}},
        [item],
    ]
    for body in bad_bodies:
        assert tenant.api.post("/v1/bulk/resources", body, format="json").status_code == 400, body
    assert Job.objects.count() == 0


def test_chunk_size_and_upsert_by_id(tenant: Any) -> None:
    # given
    items = [{"id": f"id-{i}", "name": f"n{i}", "type": "image"} for i in range(5)]
    body = {"resources": items, "options": {"chunk_size": 2, "upsert": True, "upsert_key": "id"}}
    # when: twice, the second time with changes
    job = run_chunks(tenant.api.post("/v1/bulk/resources", body, format="json").json()["job_id"])
    assert job.chunks.count() == 3 and job.successful == 5
    items[0]["name"] = "renamed"
    body["resources"] = [*items, {"name": "no id", "type": "image"}]
    job = run_chunks(tenant.api.post("/v1/bulk/resources", body, format="json").json()["job_id"])
    # then
    assert (job.successful, job.failed) == (5, 1)
    assert Resource.objects.count() == 5
    assert Resource.objects.get(public_id="id-0").name == "renamed"
