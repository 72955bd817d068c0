"""The OpenAPI 3 schema at /v1/openapi.json and the docs page at /v1/docs."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = Client().get("/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json") or response[
        "Content-Type"
    ].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def test_schema_is_valid_openapi_3(schema: dict[str, Any]) -> None:
    # given the served schema (JSON, without a token)
    # when validated against the OpenAPI 3 JSON schema
    validate_schema(schema)
    # then it is OpenAPI 3
    assert schema["openapi"].startswith("3.")


def test_schema_lists_the_resource_paths_and_methods(schema: dict[str, Any]) -> None:
    # given the schema / when its paths are read
    paths = schema["paths"]
    # then the contract's resource paths are there, without a trailing slash
    assert set(paths["/v1/resources"]) >= {"get", "post"}
    assert set(paths["/v1/resources/{resource_id}"]) >= {"get", "patch", "delete"}
    assert not any(p != "/" and p.endswith("/") for p in paths)
    list_params = {p["name"] for p in paths["/v1/resources"]["get"]["parameters"]}
    assert {"status", "type", "ids", "limit", "cursor", "created_after"} <= list_params


def test_operation_ids_are_unique(schema: dict[str, Any]) -> None:
    # given the schema / then no operationId repeats
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_bearer_auth_is_documented(schema: dict[str, Any]) -> None:
    # given the schema / when its security schemes are read
    schemes = schema["components"]["securitySchemes"]
    # then the bearer token scheme is there and the resource operations use it
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert {"bearerAuth": []} in schema["paths"]["/v1/resources"]["get"]["security"]


def test_docs_page_loads(client: Client) -> None:
    # given a browser without a token / when it opens /v1/docs
    response = client.get("/v1/docs")
    # then the Swagger UI page loads, pointing at the schema, with local assets
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower() and "/v1/openapi.json" in html


def test_only_optional_trailing_slashes_are_dropped() -> None:
    # given endpoints with an optional slash, a required slash, and none
    from pcf.openapi import strip_optional_slash

    endpoints = [
        ("/v1/a/", r"^v1/a/?$", "GET", None),
        ("/v1/b/", r"^v1/b/$", "GET", None),
        ("/v1/c", r"^v1/c$", "GET", None),
    ]
    # when the hook runs
    paths = [e[0] for e in strip_optional_slash(endpoints)]
    # then only the optional one loses its slash
    assert paths == ["/v1/a", "/v1/b/", "/v1/c"]
