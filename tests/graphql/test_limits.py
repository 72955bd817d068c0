"""Document limits: aliases, repeated fields, depth and size are refused before anything
executes."""

from __future__ import annotations

import pytest
from django.test import override_settings
from graphql import get_introspection_query

from resources.graphql.limits import MAX_REPEATED_FIELDS
from resources.models import Resource


def _creates(n: int) -> str:
    return (
        "mutation {"
        + " ".join(
            f'c{i}: createResource(input: {{name: "n{i}", type: OTHER}}) {{ resource {{ id }} }}'
            for i in range(n)
        )
        + "}"
    )


def test_500_aliases_are_allowed(gql):
    # when
    body = gql("{" + " ".join(f'a{i}: resource(id: "x{i}") {{ id }}' for i in range(500)) + "}")
    # then
    assert "errors" not in body
    assert len(body["data"]) == 500


def test_501_aliases_are_refused_before_execution(gql):
    # when: 501 aliased creates
    body = gql.refused(_creates(501))
    # then: nothing ran
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BATCH_TOO_LARGE"
    assert "501 aliases" in body["errors"][0]["message"]
    assert Resource.objects.count() == 0


def test_aliases_inside_fragments_count(gql):
    # given: 2 spreads of a fragment with 300 aliases each
    fields = " ".join(f"f{i}: id" for i in range(300))
    doc = (
        '{ a: resource(id: "x") { ...F } b: resource(id: "y") { ...F } }'
        f" fragment F on Resource {{ {fields} }}"
    )
    # when
    body = gql.refused(doc)
    # then
    assert body["errors"][0]["extensions"]["code"] == "BATCH_TOO_LARGE"


def _nested(levels: int) -> str:
    # depth = selection sets: the root, resource's, then `levels` inline fragments
    inner = "id"
    for _ in range(levels):
        inner = f"... on Resource {{ {inner} }}"
    return f'{{ resource(id: "x") {{ {inner} }} }}'


def test_depth_10_is_allowed(gql):
    # when: 2 + 8 = 10 nested selection sets
    body = gql(_nested(8))
    # then
    assert body == {"data": {"resource": None}}


def test_depth_11_is_refused(gql):
    # when
    body = gql.refused(_nested(9))
    # then
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "VALIDATION_ERROR"
    assert "11 levels deep; at most 10" in error["message"]


def test_pathological_nesting_is_refused_unparsed(gql):
    # when: nesting that would exhaust the recursive parser
    body = gql.refused(_nested(5000))
    # then: a clear refusal, not an internal error
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"
    assert "nests brackets" in body["errors"][0]["message"]


@override_settings(PCF_GRAPHQL_MAX_BYTES=2000)
def test_size_cap(gql):
    # when: a document over the byte cap
    response = gql.raw({"query": _creates(40)})
    # then: 413 in the GraphQL shape, nothing created
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert Resource.objects.count() == 0


INTROSPECTION = "{ __schema { queryType { name } } }"


def test_introspection_is_off_without_debug(gql):
    # when
    body = gql(INTROSPECTION)
    # then
    assert body["data"] is None
    assert "introspection" in body["errors"][0]["message"].lower()


@override_settings(DEBUG=True)
def test_introspection_and_graphiql_in_debug(gql, anon):
    # when
    body = gql(INTROSPECTION)
    page = anon.get("/v1/graphql", HTTP_ACCEPT="text/html")
    # then
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    assert page.status_code == 200
    assert b"graphiql" in page.content.lower()


@override_settings(DEBUG=True)
def test_graphiqls_schema_query_passes_the_depth_limit_in_debug(gql):
    # given GraphiQL's schema query (18 levels deep), as its page sends it
    query = get_introspection_query(descriptions=True, input_value_deprecation=True)
    # when / then it answers the schema
    body = gql(query)
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    # and a deep document that does more than introspect is still refused
    deep = gql.refused(_nested(9).replace("{ resource", "{ __typename resource", 1))
    assert "11 levels deep; at most 10" in deep["errors"][0]["message"]


def test_no_graphiql_without_debug(tenant):
    # when
    page = tenant.api.get("/v1/graphql", HTTP_ACCEPT="text/html")
    # then: GET is not a method of the endpoint (tests/graphql/test_methods.py)
    assert page.status_code == 405


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc"])
def test_missing_or_bad_token_is_rest_shaped_401(db, anon, header):
    # given
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    # when
    response = anon.post(
        "/v1/graphql", {"query": '{ resource(id: "x") { id } }'}, format="json", **extra
    )
    # then
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


def test_malformed_json_body(tenant):
    # when
    response = tenant.api.post("/v1/graphql", "{not json", content_type="application/json")
    # then: GraphQL-shaped request error
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"


def test_syntax_error_has_contract_code(gql):
    # when
    body = gql("{ resource(id: ")
    # then
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_ERROR", "details": []}


CREATE_B = 'mutation { createResource(input: {name: "b", type: AUDIO}) { resource { name } } }'


def test_batched_operations(tenant, gql):
    # when: a JSON array of two operations
    response = gql.raw(
        [
            {"query": CREATE_B},
            {"query": '{ resource(id: "missing") { id } }'},
        ]
    )
    # then: one answer per operation, in order
    assert response.status_code == 200
    assert response.json() == [
        {"data": {"createResource": {"resource": {"name": "b"}}}},
        {"data": {"resource": None}},
    ]


def test_too_many_batched_operations(gql):
    # when
    response = gql.raw([{"query": '{ resource(id: "x") { id } }'}] * 11)
    # then
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"


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
