"""Hostile batch and bulk input (issue 11): every integer option has an upper bound, a
reference index has at most 6 digits, an unexpected failure of one operation is that
operation's INTERNAL result, and an Idempotency-Key is never released once part of its
request's work has committed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from resources.batch import executor, operations, services
from resources.models import Resource
from tests.batch.helpers import create, post_batch

pytestmark = pytest.mark.django_db

HUGE = 10**30  # beyond bigint: was a 500 wherever it reached SQL


def _error(response: Any, field: str) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in error["details"]] == [field]


@pytest.mark.parametrize("value", [0, 300_001, HUGE, "5", 1.5, True])
def test_timeout_ms_is_1_to_300000(api, value):
    # when
    response = post_batch(api, [create()], timeout_ms=value)
    # then: a 400 naming the option, nothing run
    _error(response, "options.timeout_ms")
    assert not Resource.objects.exists()


def test_timeout_ms_at_its_bound_runs(api):
    # when
    response = post_batch(api, [create()], timeout_ms=300_000)
    # then
    assert response.status_code == 200
    assert response.json()["meta"]["successful"] == 1


def test_parallel_has_an_upper_bound(api):
    # when
    response = post_batch(api, [create()], parallel=HUGE)
    # then
    _error(response, "options.parallel")


@pytest.mark.parametrize("path", ["/v1/bulk-update/resources", "/v1/bulk-delete/resources"])
@pytest.mark.parametrize("limit", [HUGE, 2**63, 0])
def test_bulk_limit_stays_within_bigint(api, path, limit):
    # given
    body: dict[str, Any] = {"filter": {"all": True}, "options": {"limit": limit}}
    if "update" in path:
        body["update"] = {"status": "archived"}
    # when
    response = api.post(path, body, format="json")
    # then: a 400 naming the option, not a 500 from PostgreSQL
    _error(response, "options.limit")


def test_bulk_limit_at_bigint_max_runs(api):
    # when
    response = api.post(
        "/v1/bulk-delete/resources",
        {"filter": {"all": True}, "options": {"limit": 2**63 - 1, "dry_run": True}},
        format="json",
    )
    # then
    assert response.status_code == 200
    assert response.json()["matched_count"] == 0


def _idempotent_batch(api: Any, body: dict[str, Any], key: str) -> Any:
    return api.generic(
        "POST",
        "/v1/batch",
        json.dumps(body),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_4301_digit_reference_index_is_that_operations_error(api):
    # given: a create, then a PATCH whose path references an index of 4,301 digits
    reference = "{op1.body.data." + "9" * 4301 + "}"
    body = {
        "operations": [
            {"id": "op1", **create("first")},
            {"method": "PATCH", "path": f"/resources/{reference}", "body": {"name": "x"}},
        ]
    }
    # when: sent twice under one Idempotency-Key
    first = _idempotent_batch(api, body, "digits-1")
    second = _idempotent_batch(api, body, "digits-1")
    # then: the envelope is 200, the second operation alone failed, naming the limit
    assert first.status_code == 200, first.content
    results = first.json()["results"]
    assert results[0]["status"] == 201
    assert results[1]["error"]["code"] == "VALIDATION_ERROR"
    assert "at most 6 digits" in results[1]["error"]["details"][0]["message"]
    # and the retry replayed the answer: the create ran once
    assert second["Idempotent-Replayed"] == "true"
    assert Resource.objects.count() == 1


def test_an_unexpected_failure_is_that_operations_internal_result(api, monkeypatch):
    # given: a bug (injected) in the service behind PATCH, and a batch around a PATCH
    real_perform = operations.perform

    def failing_perform(**kwargs: Any) -> Any:
        if kwargs["method"] == "PATCH":
            raise RuntimeError("bug in a service")
        return real_perform(**kwargs)

    monkeypatch.setattr(executor, "perform", failing_perform)
    ops = [
        {"id": "a", **create("a")},
        {"id": "b", "method": "PATCH", "path": "/resources/{a.body.data.id}", "body": {}},
        {"id": "c", "method": "GET", "path": "/resources/{a.body.data.id}"},
    ]
    # when
    response = post_batch(api, ops)
    # then: 200; the PATCH alone is INTERNAL, with no internals in its message
    assert response.status_code == 200, response.content
    a, b, c = response.json()["results"]
    assert a["status"] == 201 and c["status"] == 200
    assert b["status"] == 500
    assert b["error"]["code"] == "INTERNAL"
    assert "bug" not in b["error"]["message"]


def test_an_idempotency_key_is_kept_once_work_has_committed(api, monkeypatch):
    # given: a failure (injected) after the operations ran, while rendering the answer
    def failing_response(**kwargs: Any) -> Any:
        raise RuntimeError("bug after commit")

    monkeypatch.setattr(services, "batch_response", failing_response)
    body = {"operations": [create("once")]}
    # when: the request fails with a 500, and the client retries under the same key
    first = _idempotent_batch(api, body, "committed-1")
    second = _idempotent_batch(api, body, "committed-1")
    # then: the retry replays the 500 rather than creating the resource again
    assert first.status_code == 500
    assert first.json()["error"]["code"] == "INTERNAL"
    assert second.status_code == 500
    assert second["Idempotent-Replayed"] == "true"
    assert Resource.objects.count() == 1


def test_a_key_is_still_released_when_nothing_committed(api, monkeypatch):
    # given: the same failure, but the only operation fails validation (nothing written)
    def failing_response(**kwargs: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(services, "batch_response", failing_response)
    body = {"operations": [{"method": "POST", "path": "/resources", "body": {}}]}
    # when
    first = _idempotent_batch(api, body, "nothing-1")
    monkeypatch.undo()
    second = _idempotent_batch(api, body, "nothing-1")
    # then: the retry ran again (a 200 with the operation's own error)
    assert first.status_code == 500
    assert second.status_code == 200
    assert "Idempotent-Replayed" not in second
