"""POST /v1/graphql is described in /v1/openapi.json."""

from __future__ import annotations

import json

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_openapi_documents_graphql():
    # when
    schema = json.loads(Client().get("/v1/openapi.json").content)
    # then: POST /v1/graphql with its request and answer
    operation = schema["paths"]["/v1/graphql"]["post"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    components = schema["components"]["schemas"]
    assert set(components[request.rsplit("/", 1)[1]]["properties"]) == {
        "query",
        "variables",
        "operationName",
    }
    assert set(components[answer.rsplit("/", 1)[1]]["properties"]) == {"data", "errors"}
    assert operation["security"] == [{"bearerAuth": []}]
