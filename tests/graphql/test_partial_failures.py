"""One alias's failure leaves the others intact, with the contract's codes."""

from __future__ import annotations

from resources.models import Resource
from tests.factories import ResourceFactory

MIXED = """
mutation Mixed {
  ok1: createResource(input: {name: "fine", type: DOCUMENT, metadata: {a: 1}}) {
    resource { id name }
  }
  tooLong: createResource(input: {name: "%s", type: DOCUMENT}) { resource { id } }
  missing: updateResource(id: "nope", input: {status: ARCHIVED}) { resource { id } }
  dup: createResource(input: {id: "taken", name: "dup", type: IMAGE}) { resource { id } }
  nullMeta: updateResource(id: "taken", input: {metadata: null}) { resource { id } }
  ok2: updateResource(id: "taken", input: {metadata: {b: 2, a: null}}) {
    resource { id metadata }
  }
}
""" % ("x" * 256)


def _errors_by_path(body):
    return {e["path"][0]: e for e in body["errors"]}


def test_failing_aliases_do_not_touch_the_others(gql, tenant):
    # given: an existing resource with a client-given id
    ResourceFactory.create(tenant=tenant.client_model, public_id="taken", metadata={"a": 1, "c": 3})
    # when
    body = gql(MIXED)
    # then: the good aliases ran
    data = body["data"]
    assert data["ok1"]["resource"]["name"] == "fine"
    assert data["ok2"]["resource"]["metadata"] == {"c": 3, "b": 2}
    for alias in ("tooLong", "missing", "dup", "nullMeta"):
        assert data[alias] is None
    # and each failure says why, in the contract's vocabulary
    errors = _errors_by_path(body)
    assert errors["tooLong"]["extensions"]["code"] == "VALIDATION_ERROR"
    assert errors["tooLong"]["extensions"]["details"] == [
        {"field": "name", "message": "Name must be at most 255 characters"}
    ]
    assert errors["missing"]["extensions"]["code"] == "NOT_FOUND"
    assert errors["dup"]["extensions"]["code"] == "CONFLICT"
    assert errors["nullMeta"]["extensions"]["details"][0]["field"] == "metadata"
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 2


def test_failed_lookup_in_a_query_keeps_the_rest(gql, tenant):
    # given
    ResourceFactory.create(tenant=tenant.client_model, public_id="res_1")
    # when: one field fails validation, the other resolves
    body = gql(
        'query($ids: [ID!]!) { a: resource(id: "res_1") { id } b: resources(ids: $ids) { id } }',
        {"ids": ["x"] * 501},
    )
    # then
    assert body["data"] == {"a": {"id": "res_1"}, "b": None}
    assert body["errors"][0]["path"] == ["b"]


def test_bad_enum_in_variables_is_a_validation_error(gql):
    # when: enums are capitals in GraphQL
    body = gql(
        'mutation($t: ResourceType!) { createResource(input: {name: "n", type: $t}) '
        "{ resource { id } } }",
        {"t": "document"},
    )
    # then
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"


def test_bulk_delete_filter_errors(gql, tenant):
    # given
    ResourceFactory.create(tenant=tenant.client_model, status="archived")
    query = "mutation($f: ResourceFilter!) { bulkDeleteResources(filter: $f) { deletedCount } }"
    # when: a bad date, an unknown enum value, an empty filter
    bad_date = gql(query, {"f": {"updatedBefore": "yesterday"}})
    bad_enum = gql(query, {"f": {"status": "gone"}})
    empty = gql(query, {"f": {}})
    # then: each refused, nothing deleted
    assert bad_date["errors"][0]["extensions"]["details"] == [
        {"field": "updatedBefore", "message": "Must be an ISO 8601 timestamp"}
    ]
    assert bad_enum["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"
    assert empty["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"
    assert Resource.objects.count() == 1


def test_bulk_delete_all_true_soft_and_dry_run(gql, tenant):
    # given
    for _ in range(3):
        ResourceFactory.create(tenant=tenant.client_model)
    query = (
        "mutation($f: ResourceFilter!, $dry: Boolean!) { bulkDeleteResources(filter: $f, "
        "dryRun: $dry, softDelete: true, limit: 2) { deletedCount deletedIds matchedCount } }"
    )
    # when: a dry run, then the real thing
    dry = gql(query, {"f": {"all": True}, "dry": True})["data"]["bulkDeleteResources"]
    real = gql(query, {"f": {"all": True}, "dry": False})["data"]["bulkDeleteResources"]
    # then: dry run counts only; the real one soft-deletes the first two
    assert dry == {"deletedCount": 0, "deletedIds": [], "matchedCount": 2}
    assert real["deletedCount"] == 2
    assert Resource.objects.filter(deleted_at__isnull=False).count() == 2
    assert Resource.objects.count() == 3
