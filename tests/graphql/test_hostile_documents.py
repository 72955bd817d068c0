"""Hostile GraphQL requests (issue 11): malformed bodies, fragment bombs, fragment chains,
spread counts and the tenant's rate limit. Timing against a real server process is in
tests/graphql/test_hostile_server.py."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import override_settings

from resources.models import Resource
from tests.graphql.documents import fragment_bomb, fragment_chain

pytestmark = pytest.mark.django_db


def _post(tenant: Any, body: str) -> Any:
    return tenant.api.post("/v1/graphql", body, content_type="application/json")


def _assert_graphql_400(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    body: dict[str, Any] = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] in {"VALIDATION_ERROR", "BATCH_TOO_LARGE"}
    return body


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        '"query"',
        "[null, null]",
        "null",
        "42",
        "{}",
        '{"query": 5}',
        '{"query": null}',
        '{"query": ["{ __typename }"]}',
        '{"query": "{ __typename }", "variables": []}',
        '{"query": "{ __typename }", "variables": "x"}',
        '{"query": "{ __typename }", "operationName": 3}',
        '{"query": "{ __typename }", "extensions": [1]}',
        '[{"query": "{ __typename }"}, 7]',
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_malformed_requests_are_400_in_graphql_shape(tenant, body):
    # when: a body that is JSON but not a GraphQL request (or a batch of them)
    response = _post(tenant, body)
    # then: 400 with {"data": null, "errors": [...]}, never 200 or 500
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"


def test_a_fragment_bomb_is_refused_without_walking_its_spreads(tenant):
    # given: 1 KB of fragments that expand to 10^9 spreads
    document = fragment_bomb()
    assert len(document) < 1200
    # when
    started = time.monotonic()
    response = _post(tenant, json.dumps({"query": document}))
    elapsed = time.monotonic() - started
    # then: refused by the depth limit, in a fraction of the time a walk would take
    body = _assert_graphql_400(response)
    assert "levels deep" in body["errors"][0]["message"]
    assert elapsed < 10


def test_a_shallow_fragment_bomb_is_refused_by_the_spread_limit(gql):
    # when: 8 levels (depth 10, allowed) that expand to 10^7 spreads
    body = gql.refused(fragment_bomb(levels=8))
    # then
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BATCH_TOO_LARGE"
    assert "at most 1000 spreads" in error["message"]


def test_a_chain_of_3000_fragments_is_a_400_not_a_500(gql):
    # when
    body = gql.refused(fragment_chain(3000))
    # then: refused by the spread count of the text, before parsing
    assert "at least 1001 fragment spreads" in body["errors"][0]["message"]


@override_settings(PCF_GRAPHQL_MAX_SPREADS=5000)
def test_a_long_chain_is_measured_without_recursion(gql):
    # when: 3,000 fragments reach the parsed-document checks
    body = gql.refused(fragment_chain(3000))
    # then: a depth error, not a RecursionError (500)
    assert "3002 levels deep" in body["errors"][0]["message"]


def test_a_fragment_cycle_is_refused(gql):
    # when
    body = gql.refused(
        "fragment A on Resource { ...B } fragment B on Resource { id ...A } "
        '{ resource(id: "x") { ...A } }'
    )
    # then
    assert "within itself" in body["errors"][0]["message"]


def test_spreads_up_to_the_limit_run(gql):
    # given: 500 aliases, each spreading a fragment that spreads another (1,000 spreads)
    aliases = " ".join(f'r{i}: resource(id: "x{i}") {{ ...A }}' for i in range(500))
    document = f"{{ {aliases} }} fragment A on Resource {{ ...B }} fragment B on Resource {{ id }}"
    # when
    body = gql(document)
    # then
    assert "errors" not in body
    assert len(body["data"]) == 500


@override_settings(PCF_GRAPHQL_MAX_SPREADS=10)
def test_the_spread_limit_is_a_setting(gql):
    # when: 11 spreads of one fragment in 11 aliases
    aliases = " ".join(f'r{i}: resource(id: "x") {{ ...A }}' for i in range(11))
    body = gql.refused(f"{{ {aliases} }} fragment A on Resource {{ id }}")
    # then
    assert "at most 10 spreads" in body["errors"][0]["message"]


def test_aliases_in_spread_fragments_are_counted_per_spread(gql):
    # given: 5 spreads of a fragment with 101 aliases (505 once spread)
    fields = " ".join(f"f{i}: id" for i in range(101))
    aliases = " ".join(f'r{i}: resource(id: "x") {{ ...F }}' for i in range(5))
    # when
    body = gql.refused(f"{{ {aliases} }} fragment F on Resource {{ {fields} }}")
    # then: 505 from the fragment plus the 5 root aliases
    assert "510 aliases" in body["errors"][0]["message"]


@override_settings(PCF_RATE_LIMIT="3/min")
def test_graphql_counts_against_the_tenants_rate_limit(tenant, other_tenant, gql):
    # given: a batch of 10 operations and two more requests: 3 requests in all
    assert gql.raw([{"query": "{ __typename }"}] * 10).status_code == 200
    assert gql.raw({"query": "{ __typename }"}).status_code == 200
    assert tenant.api.get("/v1/resources").status_code == 200  # REST shares the counter
    # when: the fourth request
    response = gql.raw(
        {
            "query": 'mutation { createResource(input: {name: "x", type: OTHER}) '
            "{ resource { id } } }"
        }
    )
    # then: 429 in GraphQL shape with Retry-After, and nothing ran
    assert response.status_code == 429
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(response["Retry-After"]) >= 1
    assert not Resource.objects.exists()
    # and another tenant is not affected
    other = other_tenant.api.post("/v1/graphql", {"query": "{ __typename }"}, format="json")
    assert other.status_code == 200
