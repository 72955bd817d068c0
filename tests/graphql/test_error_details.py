"""Field names in error details are the names the client wrote: GraphQL input fields
and arguments in camelCase, while REST keeps its snake_case names."""

from __future__ import annotations

import pytest

from tests.resources.helpers import assert_error

pytestmark = pytest.mark.django_db

BULK_DELETE = """
mutation Del($filter: ResourceFilter!, $limit: Int) {
  bulkDeleteResources(filter: $filter, limit: $limit) { deletedCount deletedIds }
}
"""


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
