"""The response budget of a batch (issue 11): GET operations share a row budget and a byte
budget; an operation past either answers 413 RESPONSE_TOO_LARGE in its own result, and
the envelope stays 200. Writes do not start once the budget is spent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from pcf.models import IdempotencyRecord
from resources.models import Resource
from tests.batch.helpers import post_batch, post_body
from tests.factories import ResourceFactory

pytestmark = pytest.mark.django_db

METADATA = {"blob": "x" * 3000}  # ~3.2 KB a row once rendered


@pytest.fixture
def ten(tenant: Any) -> list[Resource]:
    return [
        ResourceFactory.create(tenant=tenant.client_model, public_id=f"r{i}", metadata=METADATA)
        for i in range(10)
    ]


def _statuses(response: Any) -> list[tuple[int, str | None]]:
    assert response.status_code == 200, response.content
    return [(r["status"], r.get("error", {}).get("code")) for r in response.json()["results"]]


@override_settings(PCF_RESPONSE_MAX_BYTES=20_000)
def test_a_get_past_the_byte_budget_is_413_in_its_own_result(api, ten):
    # given: two pages of 5 rows (~16 KB each) and one row, under a 20 KB budget
    ops = [
        {"method": "GET", "path": "/resources?limit=5"},
        {"method": "GET", "path": "/resources?limit=5"},
        {"method": "GET", "path": "/resources/r9"},
    ]
    # when
    response = post_batch(api, ops)
    # then: the second page alone is refused; what fits still answers
    assert _statuses(response) == [(200, None), (413, "RESPONSE_TOO_LARGE"), (200, None)]
    assert len(response.content) < 20_000 + 2_000  # the envelope and the error
    meta = response.json()["meta"]
    assert (meta["successful"], meta["failed"]) == (2, 1)


@override_settings(PCF_BATCH_MAX_GET_ROWS=7)
def test_gets_share_a_row_budget(api, ten):
    # when: 5 rows, 5 more (past 7), then one
    ops = [
        {"method": "GET", "path": "/resources?limit=5"},
        {"method": "GET", "path": "/resources?limit=5&cursor="},
        {"method": "GET", "path": "/resources/r0"},
    ]
    response = post_batch(api, ops)
    # then
    assert _statuses(response) == [(200, None), (413, "RESPONSE_TOO_LARGE"), (200, None)]
    assert "PCF_BATCH_MAX_GET_ROWS" in response.json()["results"][1]["error"]["message"]


@override_settings(PCF_RESPONSE_MAX_BYTES=20_000)
def test_creates_past_the_budget_are_not_written(api):
    # given: creates whose answers are ~3.5 KB each
    ops = [post_body({"name": f"n{i}", "type": "other", "metadata": METADATA}) for i in range(8)]
    # when
    response = post_batch(api, ops)
    # then: those that fit ran, the rest are 413 and were not written
    statuses = _statuses(response)
    ran = [s for s in statuses if s == (201, None)]
    refused = [s for s in statuses if s == (413, "RESPONSE_TOO_LARGE")]
    assert len(ran) + len(refused) == 8 and ran and refused
    assert statuses == ran + refused  # in order: once past, all after are past
    assert Resource.objects.count() == len(ran)


@override_settings(PCF_RESPONSE_MAX_BYTES=20_000)
def test_writes_do_not_start_once_the_budget_is_spent(api, ten):
    # given: a page that spends the budget, then a PATCH and a DELETE
    ops = [
        {"method": "GET", "path": "/resources?limit=5"},
        {"method": "PATCH", "path": "/resources/r0", "body": {"metadata": {"blob": "z" * 5000}}},
        {"method": "PATCH", "path": "/resources/r1", "body": {"name": "renamed"}},
        {"method": "DELETE", "path": "/resources/r2"},
    ]
    # when
    response = post_batch(api, ops)
    # then: the first PATCH ran (the budget was not yet spent) and spent it; the rest
    # were refused without running
    statuses = _statuses(response)
    assert statuses[:2] == [(200, None), (200, None)]
    assert statuses[2:] == [(413, "RESPONSE_TOO_LARGE")] * 2
    assert Resource.objects.get(public_id="r1").name != "renamed"
    assert Resource.objects.filter(public_id="r2", deleted_at__isnull=True).exists()


def test_the_default_budget_lets_a_full_page_through(api, tenant):
    # given: 500 rows of 60 KiB metadata, one page of the REST list (~30 MiB)
    metadata = {"blob": "y" * 60 * 1024}
    now = timezone.now()
    Resource.objects.bulk_create(
        [
            Resource(
                tenant=tenant.client_model,
                public_id=f"big{i}",
                name="n",
                type="other",
                metadata=metadata,
                created_at=now,
                updated_at=now,
            )
            for i in range(500)
        ]
    )
    # when: the same page twice in one batch
    ops = [{"method": "GET", "path": "/resources?limit=500"}] * 2
    response = post_batch(api, ops)
    # then: one page fits in 32 MiB, two do not
    statuses = _statuses(response)
    assert statuses == [(200, None), (413, "RESPONSE_TOO_LARGE")]
    assert len(response.content) <= 32 * 1024**2


@override_settings(PCF_RESPONSE_MAX_BYTES=20_000)
def test_the_idempotency_store_never_holds_more_than_the_budget(api, ten):
    # given: PATCHes that each answer ~7 KB: the third starts before the budget is spent
    # and takes the answer past it
    body = {
        "operations": [
            {"method": "PATCH", "path": f"/resources/r{i}", "body": {"metadata": {"b": "w" * 7000}}}
            for i in range(3)
        ]
    }
    # when: sent, then retried under the same key
    first = api.generic(
        "POST",
        "/v1/batch",
        json.dumps(body),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="big-1",
    )
    second = api.generic(
        "POST",
        "/v1/batch",
        json.dumps(body),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="big-1",
    )
    # then: the client got the whole first answer; the store kept a small 413 instead,
    # which the retry replays (the PATCHes are not run again)
    assert first.status_code == 200 and len(first.content) > 20_000
    record = IdempotencyRecord.objects.get(key="big-1")
    assert len(bytes(record.body)) <= 20_000
    assert second.status_code == 413
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["error"]["code"] == "RESPONSE_TOO_LARGE"
