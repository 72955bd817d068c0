"""Malformed ids, JSON nested too deep, and internals in error text (issue 11, item 9):
each a 4xx in the contract's shape, never a 500, and no internal detail shown."""

from __future__ import annotations

import base64
import json
import random
import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from jobs.models import Job
from pcf.models import IdempotencyRecord
from resources.models import Resource
from tests.resources.helpers import assert_error

pytestmark = [pytest.mark.django_db]

BAD_IDS = ["%00", "job_%00", "a%00b", "x" * 5000, "%C3%A9t%C3%A9", "job_%0A", "%FF", "a%20b"]
JOB_PATHS = ["", "/errors", "/errors?format=csv", "/results", "/webhooks", "/progress"]
JSON_PATHS = [
    "/v1/batch",
    "/v1/resources",
    "/v1/bulk/resources",
    "/v1/bulk-update/resources",
    "/v1/bulk-delete/resources",
]


@pytest.fixture
def quiet_api(api: APIClient) -> APIClient:
    # Answer as a server would (a crash is a 500 response, not an exception in the test).
    api.raise_request_exception = False
    return api


@pytest.mark.parametrize("bad", BAD_IDS)
def test_malformed_job_ids_are_404_on_every_job_path(quiet_api: APIClient, bad: str) -> None:
    # given a job id with a NUL, a newline, the wrong alphabet or 5,000 characters
    for suffix in JOB_PATHS:
        # when any job path is read with it
        response = quiet_api.get(f"/v1/jobs/{bad}{suffix}")
        # then it is a 404 in the contract's shape (a NUL used to be a driver error, 500)
        assert_error(response, 404, "NOT_FOUND")
    assert_error(quiet_api.post(f"/v1/jobs/{bad}/cancel"), 404, "NOT_FOUND")


@pytest.mark.parametrize("value", ["xml", "api", "json", "%00", "x" * 300])
def test_a_format_query_parameter_does_not_pick_a_renderer(api: APIClient, value: str) -> None:
    # given a resource
    body = {"name": "r", "type": "other"}
    created = api.post("/v1/resources", body, format="json").json()["data"]
    # when it is read with a `?format=` DRF once took as its renderer override
    response = api.get(f"/v1/resources/{created['id']}?format={value}")
    # then it is answered in JSON as usual (an unknown value used to be a 404)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["data"]["id"] == created["id"]
    # and a list treats it as the unknown filter it is, in the contract's shape
    error = assert_error(api.get(f"/v1/resources?format={value}"), 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "format"


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("last_id", ["job_\x00", "x" * 300, "ü"])
def test_a_job_list_cursor_naming_a_malformed_id_is_400(quiet_api: APIClient, last_id: str) -> None:
    # when the job list is paged with a forged cursor
    response = quiet_api.get(f"/v1/jobs?cursor={_cursor('2024-01-01T00:00:00+00:00|' + last_id)}")
    # then the cursor is refused, not passed to the database
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "cursor"


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("path", JSON_PATHS)
@pytest.mark.parametrize("depth", [65, 100_000])
@pytest.mark.parametrize("with_key", [False, True])
def test_json_nested_deeper_than_64_levels_is_400_everywhere(
    quiet_api: APIClient, path: str, depth: int, with_key: bool
) -> None:
    # given a body nested past the limit, with or without an Idempotency-Key
    extra: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": f"deep-{path}-{depth}"} if with_key else {}
    # when posted
    response = quiet_api.generic(
        "POST", path, nested(depth), content_type="application/json", **extra
    )
    # then a 400 naming the limit; nothing claimed or written
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "64" in error["message"]
    assert not IdempotencyRecord.objects.exists()
    assert not Job.objects.exists() and not Resource.objects.exists()


def test_json_64_levels_deep_is_not_refused_for_its_depth(quiet_api: APIClient) -> None:
    # given a bulk update whose filter nests 64 levels in all (within the limit)
    body = '{"filter": {"ids": ' + "[" * 62 + "]" * 62 + '}, "update": {"status": "archived"}}'
    # when posted
    response = quiet_api.generic(
        "POST", "/v1/bulk-update/resources", body, content_type="application/json"
    )
    # then it reaches the endpoint's own validation (ids must be strings), not the depth rule
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "64" not in error["message"]


def test_graphql_answers_a_too_deep_body_in_graphql_shape(quiet_api: APIClient) -> None:
    # when a GraphQL request nests its variables 100,000 levels deep
    body = '{"query": "{ resources(ids: []) { id } }", "variables": ' + nested(100_000) + "}"
    response = quiet_api.generic("POST", "/v1/graphql", body, content_type="application/json")
    # then a 400 in GraphQL-over-HTTP's shape
    assert response.status_code == 400
    payload = response.json()
    assert payload["data"] is None
    assert payload["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"


def test_import_options_nested_too_deep_are_400(quiet_api: APIClient) -> None:
    csv_text = "name,type\na,document\n"
    deep_mapping = '{"name":' * 5000 + '"name"' + "}" * 5000
    # when the options (query string) or the mapping nest 5,000 levels deep
    for query in (f"options={deep_mapping}", f"mapping={deep_mapping}"):
        response = quiet_api.generic(
            "POST", f"/v1/import/resources?{query}", csv_text, content_type="text/csv"
        )
        # then a 400 naming the options, not a RecursionError
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert error["details"][0]["field"].startswith("options")
    assert not Job.objects.exists()


@pytest.mark.parametrize("key", ["a\x00b", "line\nbreak", "\x7f"])
def test_an_idempotency_key_with_control_characters_is_400(quiet_api: APIClient, key: str) -> None:
    # when a request carries a key PostgreSQL could not even store
    response = quiet_api.post(
        "/v1/resources", {"name": "n", "type": "image"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    # then it is refused before anything runs
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "Idempotency-Key"
    assert not Resource.objects.exists()


@pytest.mark.parametrize(
    "item",
    [
        {"name": "a\x00", "type": "document"},
        {"name": "a", "type": "document", "metadata": {"k\x00": 1}},
        {"name": "a\ud800", "type": "document"},
    ],
)
def test_a_bulk_import_item_postgresql_cannot_store_is_400(quiet_api: APIClient, item: Any) -> None:
    # given a bulk import whose second item holds a NUL or an unpaired surrogate
    body = json.dumps({"resources": [{"name": "ok", "type": "image"}, item]})
    # when posted
    response = quiet_api.generic(
        "POST", "/v1/bulk/resources", body, content_type="application/json"
    )
    # then a 400 naming the item, and nothing stored
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert [d["index"] for d in error["details"]] == [1]
    assert not Job.objects.exists()


def test_an_internal_error_shows_a_reference_not_the_detail(
    quiet_api: APIClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given a read that fails with driver text naming a host and port
    def fail(**kwargs: Any) -> None:
        raise RuntimeError('connection to server at "db.internal" (10.0.0.5), port 5432 failed')

    monkeypatch.setattr("jobs.selectors.job_get", fail)
    # when a tenant calls the endpoint
    response = quiet_api.get("/v1/jobs/job_0123456789abcdef01234567")
    # then the answer carries a reference id and nothing of the driver text
    error = assert_error(response, 500, "INTERNAL")
    match = re.fullmatch(r"Internal error \(reference ([0-9a-f]{16})\)", error["message"])
    assert match is not None
    for leak in ("db.internal", "10.0.0.5", "5432", "RuntimeError"):
        assert leak not in response.content.decode()
    # and the log line with the detail carries the same reference
    assert match.group(1) in caplog.text and "db.internal" in caplog.text


def _real_depth(value: Any) -> int:
    best, stack = 0, [(value, 1)] if isinstance(value, list | dict) else []
    while stack:
        item, depth = stack.pop()
        best = max(best, depth)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, list | dict))
    return best


def test_the_depth_scan_agrees_with_the_parsed_depth() -> None:
    # Here, not at the top: the module's other tests also run against main's code.
    from pcf.jsondepth import nests_deeper

    # given random JSON with brackets, quotes and backslashes inside strings and keys
    rnd = random.Random(11)
    scalars = [1, "a[", 'q"\\[{', "\\", "", None, "]]", '\\\\"', "}{"]

    def make(depth: int) -> Any:
        if depth == 0 or rnd.random() < 0.3:
            return rnd.choice(scalars)
        if rnd.random() < 0.5:
            return [make(depth - 1) for _ in range(rnd.randint(0, 3))]
        return {rnd.choice(["k", "[", '\\"', ""]) + str(i): make(depth - 1) for i in range(3)}

    for _ in range(3000):
        value = make(rnd.randint(0, 12))
        text = json.dumps(value, ensure_ascii=rnd.random() < 0.5)
        for limit in (1, 2, 3, 5, 8):
            # then the scan of the text says what the parsed value shows
            assert nests_deeper(text, limit) == (_real_depth(value) > limit), (text, limit)
    assert not nests_deeper("[" * 64 + "]" * 64, 64)
    assert nests_deeper("[" * 65 + "]" * 65, 64)
