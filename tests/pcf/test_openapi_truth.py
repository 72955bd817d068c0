"""The OpenAPI document tells the truth (issue 11): every operation lists its error
answers in the contract's shape, parameters their types, ranges and enums; 405 answers
carry `Allow`. What the fuzz test (test_api_fuzz.py) found, pinned down."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from django.test import Client

from jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema() -> dict[str, Any]:
    body: dict[str, Any] = Client().get("/v1/openapi.json").json()
    return body


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in schema["paths"].values() for op in item.values()]


def test_every_operation_documents_its_errors(schema):
    # given every authenticated operation / then 401, 429 and 500 are documented, and
    # those with a path id 404, those with input 400, in the contract's error shape
    for operation in _operations(schema):
        responses = operation["responses"]
        assert {"401", "429", "500"} <= set(responses), operation["operationId"]
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        if names:
            assert "404" in responses, operation["operationId"]
    error = schema["paths"]["/v1/resources"]["get"]["responses"]["400"]
    assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "VALIDATION_ERROR" in error["description"]
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    retry = schema["paths"]["/v1/batch"]["post"]["responses"]["429"]["headers"]["Retry-After"]
    assert retry["required"] is True


def test_parameters_have_types_ranges_and_enums(schema):
    # given the list endpoint / when its parameters are read
    params = {p["name"]: p["schema"] for p in schema["paths"]["/v1/resources"]["get"]["parameters"]}
    # then
    assert params["limit"] == {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}
    assert params["status"]["enum"] == ["draft", "active", "published", "archived"]
    assert params["type"]["enum"] == ["document", "image", "video", "audio", "other"]
    assert params["created_after"]["format"] == "date-time"
    jobs = {p["name"]: p["schema"] for p in schema["paths"]["/v1/jobs"]["get"]["parameters"]}
    assert "completed" in jobs["status"]["enum"] and "csv_import" in jobs["type"]["enum"]


def test_request_bodies_are_described(schema):
    create = schema["components"]["schemas"]["ResourceCreate"]
    assert create["required"] == ["name", "type"]
    assert create["additionalProperties"] is False
    options = schema["components"]["schemas"]["BatchOptions"]["properties"]
    assert options["timeout_ms"]["maximum"] == 300_000


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/v1/resources", {"GET", "POST"}), ("/v1/jobs/job_x/progress", {"GET"})],
)
def test_trace_is_405_with_allow(tenant, path, allowed):
    # when
    response = tenant.api.generic("TRACE", path)
    # then
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert allowed <= {m.strip() for m in response["Allow"].split(",")}


def test_a_timestamp_offset_postgresql_cannot_hold_is_converted_not_a_500(api):
    # when: an ISO 8601 offset past PostgreSQL's +-15:59
    response = api.get("/v1/resources", {"created_after": "0291-12-29T09:49:18-18:58"})
    # then
    assert response.status_code == 200


def test_an_empty_limit_is_a_400(api):
    response = api.get("/v1/resources", {"limit": ""})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "limit"


def test_a_bulk_import_holding_nul_is_a_400_not_a_500(api):
    # when: lenient (no validate_before_import), one item with U+0000 in its metadata
    body = {
        "resources": [
            {"name": "a", "type": "other"},
            {"name": "b", "type": "other", "metadata": {"k": "\u0000"}},
        ]
    }
    response = api.post("/v1/bulk/resources", body, format="json")
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["index"] == 1


def test_bulk_import_options_given_as_null_take_their_defaults(api, schema):
    # given: the fuzzer's find, every bulk import option sent as null
    nulls = {"upsert": None, "upsert_key": None, "validate_before_import": None}
    body = {"resources": [{"name": "a", "type": "other"}], "options": {**nulls, "chunk_size": None}}
    # when
    response = api.post("/v1/bulk/resources", body, format="json")
    # then: accepted with the defaults, and the document says null is allowed
    assert response.status_code == 202, response.json()
    job = Job.objects.get(pk=response.json()["job_id"])
    assert (job.options["upsert"], job.options["upsert_key"]) == (False, "name")
    options = schema["components"]["schemas"]["BulkImportRequest"]["anyOf"][0]["properties"]
    for name, value in options["options"]["properties"].items():
        assert value.get("nullable") is True, name
        assert value.get("enum") is None or None in value["enum"], name


WEBHOOK = {
    "url": "https://webhook.example.com/done",
    "events": ["completed", "failed"],
    "headers": {"X-Team": "data"},
}


def _validate(schema: dict[str, Any], name: str, body: dict[str, Any]) -> None:
    ref = {"$ref": f"#/components/schemas/{name}", "components": schema["components"]}
    jsonschema.validate(body, ref)


@pytest.mark.parametrize(
    "options",
    [
        {"notification_webhook": "https://webhook.example.com/import-complete"},  # cookbook
        {"webhook": WEBHOOK},
    ],
)
def test_the_bulk_import_webhook_options_are_documented_and_taken(api, schema, options):
    body = {"resources": [{"name": "a", "type": "other"}], "options": options}
    # the document allows them (it used to refuse any key but four) ...
    _validate(schema, "BulkImportRequest", body)
    # ... and the API takes them
    response = api.post("/v1/bulk/resources", body, format="json")
    assert response.status_code == 202, response.json()


@pytest.mark.parametrize("name", ["BatchOptions", "BulkUpdateRequest", "BulkDeleteRequest"])
def test_every_job_making_request_documents_its_webhook(schema, name):
    component = schema["components"]["schemas"][name]
    options = component if name == "BatchOptions" else component["properties"]["options"]
    webhook = options["properties"]["webhook"]
    jsonschema.validate(WEBHOOK, webhook)
    jsonschema.validate("https://webhook.example.com/done", webhook)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"url": "https://x.example.com", "events": ["started"]}, webhook)


def _nested(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize(("depth", "accepted"), [(10, True), (11, False)])
def test_the_metadata_depth_limit_is_the_documents(api, schema, depth, accepted):
    body = {"name": "deep", "type": "other", "metadata": _nested(depth)}
    # the document and the API agree on where nesting stops
    try:
        _validate(schema, "ResourceCreate", body)
        valid = True
    except jsonschema.ValidationError:
        valid = False
    response = api.post("/v1/resources", body, format="json")
    assert valid is accepted
    assert (response.status_code == 201) is accepted, response.json()


def test_a_null_bulk_limit_is_documented_and_means_none(api, schema):
    body = {"filter": {"all": True}, "options": {"limit": None, "dry_run": True}}
    # (jsonschema does not read OpenAPI's `nullable`: the flag itself is checked)
    assert schema["components"]["schemas"]["BulkDeleteRequest"]["properties"]["options"][
        "properties"
    ]["limit"]["nullable"]
    assert api.post("/v1/bulk-delete/resources", body, format="json").status_code == 200
