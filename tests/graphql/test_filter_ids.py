"""`ids` in the GraphQL filter input: a lone string is a one-item list (GraphQL's input
coercion), one id, never split on commas as the REST query string is
(tests/resources/test_filter_ids_forms.py)."""

from __future__ import annotations

import pytest

from resources.models import Resource
from tests.factories import ResourceFactory

pytestmark = pytest.mark.django_db

BULK_DELETE = """
mutation Del($filter: ResourceFilter!, $limit: Int) {
  bulkDeleteResources(filter: $filter, limit: $limit) { deletedCount deletedIds }
}
"""


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


@pytest.mark.parametrize("flag", [False, None])
def test_all_false_or_null_means_not_all(gql, tenant, flag):
    # given
    owner = tenant.client_model
    for public_id in ("k1", "k2"):
        ResourceFactory.create(tenant=owner, public_id=public_id)
    # when: GraphQL's Boolean `all` is false or null (REST takes only true)
    alone = gql(BULK_DELETE, {"filter": {"all": flag}})
    with_ids = gql(BULK_DELETE, {"filter": {"all": flag, "ids": ["k1"]}})
    # then: alone it is an empty filter, refused; beside another key it is ignored
    assert alone["data"]["bulkDeleteResources"] is None
    assert alone["errors"][0]["extensions"]["details"][0]["field"] == "filter"
    assert with_ids["data"]["bulkDeleteResources"] == {"deletedCount": 1, "deletedIds": ["k1"]}
    assert list(Resource.objects.values_list("public_id", flat=True)) == ["k2"]
