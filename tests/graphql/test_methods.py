"""POST is the endpoint's only method: any other, GET included, is a 405 in the
contract's shape that runs nothing; GraphiQL (a GET from a browser) only with DEBUG."""

from __future__ import annotations

import pytest
from django.test import override_settings

from resources.models import Resource
from tests.resources.helpers import assert_error

pytestmark = pytest.mark.django_db


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
