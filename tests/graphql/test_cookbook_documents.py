# ruff: noqa: W293  (the documents keep the cookbook's trailing spaces: verbatim)
"""The cookbook's GraphQL documents, verbatim (batch-operations-cookbook.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from resources.models import Resource
from tests.factories import ResourceFactory

BATCH_CREATE = """
mutation BatchCreateResources {
  r1: createResource(input: {
    name: "Resource 1"
    type: DOCUMENT
    metadata: { key: "value1" }
  }) {
    resource {
      id
      name
    }
  }
  
  r2: createResource(input: {
    name: "Resource 2"
    type: IMAGE
    metadata: { key: "value2" }
  }) {
    resource {
      id
      name
    }
  }
  
  r3: updateResource(id: "existing_123", input: {
    status: ARCHIVED
  }) {
    resource {
      id
      status
    }
  }
}
"""

BATCH_GET = """
query BatchGetResources {
  res1: resource(id: "res_123") {
    ...ResourceFields
  }
  
  res2: resource(id: "res_456") {
    ...ResourceFields
  }
  
  res3: resource(id: "res_789") {
    ...ResourceFields
  }
}

fragment ResourceFields on Resource {
  id
  name
  type
  status
  metadata
  createdAt
  updatedAt
}
"""

BATCH_LOAD = """
    query BatchLoadResources($ids: [ID!]!) {
      resources(ids: $ids) {
        id
        name
        type
        status
      }
    }
  """

BULK_DELETE = """
mutation BulkDeleteResources($filter: ResourceFilter!) {
  bulkDeleteResources(filter: $filter) {
    deletedCount
    deletedIds
    errors {
      id
      message
    }
  }
}
"""
BULK_DELETE_VARIABLES = {
    "filter": {
        "status": "archived",
        "updatedBefore": "2023-01-01T00:00:00Z",
    }
}


def test_batch_create_resources_runs_as_written(gql, tenant):
    # given: the resource the cookbook's r3 updates
    ResourceFactory.create(tenant=tenant.client_model, public_id="existing_123", status="active")
    # when
    body = gql(BATCH_CREATE)
    # then: two created, one archived, no errors
    assert "errors" not in body
    data = body["data"]
    assert data["r1"]["resource"]["name"] == "Resource 1"
    assert data["r2"]["resource"]["name"] == "Resource 2"
    assert data["r3"] == {"resource": {"id": "existing_123", "status": "ARCHIVED"}}
    created = Resource.objects.get(public_id=data["r1"]["resource"]["id"])
    assert (created.type, created.metadata) == ("document", {"key": "value1"})
    assert Resource.objects.get(public_id=data["r2"]["resource"]["id"]).type == "image"
    assert Resource.objects.get(public_id="existing_123").status == "archived"


def test_batch_get_resources_runs_as_written(gql, tenant):
    # given: two of the three ids exist
    stamp = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    ResourceFactory.create(
        tenant=tenant.client_model,
        public_id="res_123",
        name="A",
        metadata={"k": [1, {"x": None}]},
        created_at=stamp,
        updated_at=stamp,
    )
    ResourceFactory.create(tenant=tenant.client_model, public_id="res_456", type="video")
    # when
    body = gql(BATCH_GET)
    # then: the missing one is null without an error
    assert "errors" not in body
    assert body["data"]["res1"] == {
        "id": "res_123",
        "name": "A",
        "type": "DOCUMENT",
        "status": "ACTIVE",
        "metadata": {"k": [1, {"x": None}]},
        "createdAt": "2024-05-01T12:00:00Z",
        "updatedAt": "2024-05-01T12:00:00Z",
    }
    assert body["data"]["res2"]["type"] == "VIDEO"
    assert body["data"]["res3"] is None


def test_dataloader_document_returns_found_ones_only(gql, tenant):
    # given
    ResourceFactory.create(tenant=tenant.client_model, public_id="res_123")
    ResourceFactory.create(tenant=tenant.client_model, public_id="res_789")
    # when: the cookbook's batch load with one unknown id
    body = gql(BATCH_LOAD, {"ids": ["res_123", "res_456", "res_789"]})
    # then
    assert "errors" not in body
    assert [r["id"] for r in body["data"]["resources"]] == ["res_123", "res_789"]


def test_bulk_delete_resources_runs_as_written(gql, tenant):
    # given: archived before 2023 (two), archived later, active before 2023
    old = datetime(2022, 6, 1, tzinfo=UTC)
    new = datetime(2024, 6, 1, tzinfo=UTC)
    owner = tenant.client_model
    ResourceFactory.create(tenant=owner, public_id="old_1", status="archived", updated_at=old)
    ResourceFactory.create(tenant=owner, public_id="old_2", status="archived", updated_at=old)
    ResourceFactory.create(tenant=owner, public_id="new_1", status="archived", updated_at=new)
    ResourceFactory.create(tenant=owner, public_id="act_1", status="active", updated_at=old)
    # when
    body = gql(BULK_DELETE, BULK_DELETE_VARIABLES)
    # then
    assert "errors" not in body
    result = body["data"]["bulkDeleteResources"]
    assert result["deletedCount"] == 2
    assert sorted(result["deletedIds"]) == ["old_1", "old_2"]
    assert result["errors"] == []
    assert sorted(Resource.objects.values_list("public_id", flat=True)) == ["act_1", "new_1"]
