"""Live-review fixes: no GraphiQL (nor any GET) without DEBUG, camelCase detail fields,
a clear limit error for repeated fields, ids in the filter input, /v1/graphql in the
OpenAPI document."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

from resources.graphql.limits import MAX_REPEATED_FIELDS
from resources.models import Resource
from tests.factories import ResourceFactory
from tests.resources.helpers import assert_error

pytestmark = pytest.mark.django_db

BULK_DELETE = """
mutation Del($filter: ResourceFilter!, $limit: Int) {
  bulkDeleteResources(filter: $filter, limit: $limit) { deletedCount deletedIds }
}
"""


# --- 1. GraphiQL only with DEBUG; otherwise GET is 405 ----------------------------------


@pytest.mark.parametrize("accept", ["*/*", "text/html", "application/json", None])
def test_get_with_a_valid_token_is_405_without_debug(tenant, accept):
    # given: DEBUG off (the test default) / when: a GET, as curl or a browser sends it
    extra = {"HTTP_ACCEPT": accept} if accept else {}
    response = tenant.api.get("/v1/graphql", **extra)
    # then: 405 in the contract's error shape, no GraphiQL page
    error = assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in error["message"]
    assert response["Allow"] == "POST"
    assert b"graphiql" not in response.content.lower()


def test_get_query_and_other_methods_are_405_and_run_nothing(tenant):
    # when: a query over GET, and a PUT carrying a mutation
    got = tenant.api.get("/v1/graphql", {"query": "{ __typename }"})
    create = 'mutation { createResource(input: {name: "x", type: DOCUMENT}) { id: __typename } }'
    put = tenant.api.put("/v1/graphql", {"query": create}, format="json")
    # then
    assert_error(got, 405, "METHOD_NOT_ALLOWED")
    assert_error(put, 405, "METHOD_NOT_ALLOWED")
    assert not Resource.objects.exists()


def test_get_without_a_token_is_401(anon):
    # when
    response = anon.get("/v1/graphql", HTTP_ACCEPT="*/*")
    # then
    assert_error(response, 401, "UNAUTHENTICATED")


@override_settings(DEBUG=True)
def test_graphiql_for_a_browser_only_with_debug(tenant):
    # when: DEBUG on, a GET accepting anything
    response = tenant.api.get("/v1/graphql", HTTP_ACCEPT="*/*")
    # then: the IDE
    assert response.status_code == 200
    assert b"graphiql" in response.content.lower()


# --- 4a. detail fields in GraphQL names ----------------------------------------------


def test_filter_detail_fields_are_camel_case(gql):
    # when: two bad dates in the filter input
    body = gql(
        BULK_DELETE,
        {"filter": {"updatedBefore": "yesterday", "createdAfter": "nope", "status": "draft"}},
    )
    # then: the details name the input fields as the client wrote them
    error = body["errors"][0]
    assert error["extensions"]["code"] == "VALIDATION_ERROR"
    fields = sorted(d["field"] for d in error["extensions"]["details"])
    assert fields == ["createdAfter", "updatedBefore"]


def test_argument_detail_fields_are_graphql_argument_names(gql):
    # when: a bad `limit` argument (REST calls it options.limit)
    body = gql(BULK_DELETE, {"filter": {"status": "draft"}, "limit": 0})
    # then
    details = body["errors"][0]["extensions"]["details"]
    assert [d["field"] for d in details] == ["limit"]


def test_rest_detail_fields_are_unchanged(api):
    # when: the same mistake over REST
    response = api.post(
        "/v1/bulk-delete/resources", {"filter": {"updated_before": "yesterday"}}, format="json"
    )
    # then: REST keeps its snake_case names
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["updated_before"]


# --- 4b. repeated fields: a limit error, not "Validation aborted." -------------------


@pytest.mark.parametrize(
    "selection",
    ["__typename", 'resource(id: "x") { id }', "... on Query { __typename }"],
)
def test_a_field_repeated_1000_times_is_a_clear_limit_error(gql, selection):
    # when
    body = gql.refused("{ " + " ".join([selection] * 1000) + " }")
    # then: the contract's code and a message naming the limit
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BATCH_TOO_LARGE"
    assert f"at most {MAX_REPEATED_FIELDS}" in error["message"]
    assert "aborted" not in error["message"].lower()


def test_repeats_up_to_the_limit_still_run(gql):
    # when
    body = gql("{ " + " ".join(["__typename"] * MAX_REPEATED_FIELDS) + " }")
    # then
    assert body == {"data": {"__typename": "Query"}}


# --- 2. ids in the filter input ------------------------------------------------------


def test_filter_ids_string_is_one_id_never_split_on_commas(gql, tenant):
    # given
    owner = tenant.client_model
    for public_id in ("d1", "d2"):
        ResourceFactory.create(tenant=owner, public_id=public_id)
    # when: GraphQL coerces a lone string to a one-item list (spec input coercion)
    split = gql(BULK_DELETE, {"filter": {"ids": "d1,d2"}})
    one = gql(BULK_DELETE, {"filter": {"ids": "d1"}})
    # then: "d1,d2" is one malformed id, not two ids; "d1" is the list ["d1"]
    assert split["data"]["bulkDeleteResources"] is None
    assert split["errors"][0]["extensions"]["details"] == [
        {"field": "ids", "message": "ids contains a malformed id"}
    ]
    assert one["data"]["bulkDeleteResources"] == {"deletedCount": 1, "deletedIds": ["d1"]}
    assert list(Resource.objects.values_list("public_id", flat=True)) == ["d2"]


# --- 6. OpenAPI ----------------------------------------------------------------------


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
