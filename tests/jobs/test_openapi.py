"""The SSE route GET /v1/jobs/{job_id}/progress is described in /v1/openapi.json."""

from __future__ import annotations

import pytest
from django.test import Client
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


def test_progress_stream_is_in_the_openapi_document(client: Client) -> None:
    # given the served schema
    schema = client.get("/v1/openapi.json").json()
    # when the progress route is looked up
    operation = schema["paths"]["/v1/jobs/{job_id}/progress"]["get"]
    # then it is the real route: an event stream of progress, complete and error events
    content = operation["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    for event in ("`progress`", "`complete`", "`error`"):
        assert event in operation["description"]
    assert {p["name"] for p in operation["parameters"]} == {"job_id", "Last-Event-ID"}
    assert {"401", "404"} <= set(operation["responses"])
    assert "skipped" in schema["components"]["schemas"]["JobProgressEvent"]["properties"]
    # and the document stays valid OpenAPI 3
    validate_schema(schema)
