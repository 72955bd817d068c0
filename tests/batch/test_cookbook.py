"""The cookbook's batch examples, sent verbatim."""

from __future__ import annotations

import json

import pytest

from resources.models import Resource

CURL_EXAMPLE = """{
    "operations": [
      {
        "id": "op1",
        "method": "POST",
        "path": "/resources",
        "body": {
          "name": "Resource 1",
          "type": "document"
        }
      },
      {
        "id": "op2",
        "method": "POST",
        "path": "/resources",
        "body": {
          "name": "Resource 2",
          "type": "image"
        }
      },
      {
        "id": "op3",
        "method": "PATCH",
        "path": "/resources/existing_123",
        "body": {
          "status": "archived"
        }
      }
    ],
    "options": {
      "atomic": true,
      "continue_on_error": false
    }
  }"""


@pytest.mark.django_db
def test_basic_batch_request_answers_the_cookbook_response(api, make_resource):
    # given: the resource the example patches
    make_resource("existing_123", name="existing")
    # when: the curl example's body is posted as is
    response = api.generic("POST", "/v1/batch", CURL_EXAMPLE, content_type="application/json")
    # then: the cookbook's response shape, operation by operation
    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body["results"]] == ["op1", "op2", "op3"]
    assert [r["status"] for r in body["results"]] == [201, 201, 200]
    first = body["results"][0]["body"]["data"]
    assert first["id"].startswith("res_")
    assert (first["name"], first["type"]) == ("Resource 1", "document")
    assert first["created_at"].endswith("Z")
    assert body["results"][1]["body"]["data"]["type"] == "image"
    third = body["results"][2]["body"]["data"]
    assert (third["id"], third["status"]) == ("existing_123", "archived")
    assert third["updated_at"].endswith("Z")
    meta = body["meta"]
    assert meta["total_operations"] == 3
    assert (meta["successful"], meta["failed"], meta["skipped"]) == (3, 0, 0)
    assert isinstance(meta["duration_ms"], int)
    assert Resource.objects.filter(name__in=["Resource 1", "Resource 2"]).count() == 2


@pytest.mark.django_db
def test_basic_batch_without_the_existing_resource_rolls_everything_back(api):
    # given: no existing_123; when: the atomic example runs
    response = api.generic("POST", "/v1/batch", CURL_EXAMPLE, content_type="application/json")
    # then: op3 is the 404, the two creates are ROLLED_BACK and nothing stays
    results = response.json()["results"]
    assert [r["status"] for r in results] == [424, 424, 404]
    assert [r["error"]["code"] for r in results] == ["ROLLED_BACK", "ROLLED_BACK", "NOT_FOUND"]
    assert results[2]["originalOperation"] == json.loads(CURL_EXAMPLE)["operations"][2]
    assert response.json()["meta"]["skipped"] == 2
    assert not Resource.objects.exists()


@pytest.mark.django_db
def test_update_multiple_by_ids(api, make_resource):
    # given: the three ids of the example
    for rid in ("res_123", "res_456", "res_789"):
        make_resource(rid, status="draft")
    batch_update = {
        "operations": [
            {"method": "PATCH", "path": "/resources/res_123", "body": {"status": "published"}},
            {"method": "PATCH", "path": "/resources/res_456", "body": {"status": "published"}},
            {"method": "PATCH", "path": "/resources/res_789", "body": {"status": "published"}},
        ]
    }
    # when
    response = api.post("/v1/batch", batch_update, format="json")
    # then: ids default to op1..op3 and all are published
    results = response.json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [("op1", 200), ("op2", 200), ("op3", 200)]
    assert set(Resource.objects.values_list("status", flat=True)) == {"published"}


@pytest.mark.django_db
def test_delete_multiple_resources_with_soft_delete(api, make_resource):
    # given: two of the three ids exist
    make_resource("res_123")
    make_resource("res_456")
    body = {
        "operations": [
            {"method": "DELETE", "path": "/resources/res_123"},
            {"method": "DELETE", "path": "/resources/res_456"},
            {"method": "DELETE", "path": "/resources/res_789"},
        ],
        "options": {"atomic": False, "soft_delete": True},
    }
    # when
    response = api.post("/v1/batch", body, format="json")
    # then: two soft deletes (rows kept, marked), one 404; the rest went on
    results = response.json()["results"]
    assert [r["status"] for r in results] == [204, 204, 404]
    assert Resource.objects.filter(deleted_at__isnull=False).count() == 2
    assert api.get("/v1/resources/res_123").status_code == 404
    meta = response.json()["meta"]
    assert (meta["successful"], meta["failed"]) == (2, 1)


@pytest.mark.django_db
def test_validation_error_example_shape(api):
    # when: a create with no name and a bad type
    response = api.post(
        "/v1/batch",
        {"operations": [{"method": "POST", "path": "/resources", "body": {"type": "banana"}}]},
        format="json",
    )
    # then: the cookbook's error result, plus originalOperation
    result = response.json()["results"][0]
    assert result["id"] == "op1"
    assert result["status"] == 400
    assert result["error"]["code"] == "VALIDATION_ERROR"
    assert result["error"]["message"] == "Validation failed"
    assert {"field": "name", "message": "Name is required"} in result["error"]["details"]
    assert [d["field"] for d in result["error"]["details"]] == ["name", "type"]
    assert result["originalOperation"] == {
        "method": "POST",
        "path": "/resources",
        "body": {"type": "banana"},
    }


@pytest.mark.django_db
def test_failed_operations_can_be_resent_from_original_operation(api, make_resource):
    # given: a failed PATCH (missing resource)
    first = api.post(
        "/v1/batch",
        {"operations": [{"method": "PATCH", "path": "/resources/later", "body": {"name": "x"}}]},
        format="json",
    ).json()
    failed = [r for r in first["results"] if r["status"] >= 400]
    make_resource("later")
    # when: the cookbook's retry spreads originalOperation under a new id
    retry = [{"id": f"retry_{f['id']}", **f["originalOperation"]} for f in failed]
    response = api.post("/v1/batch", {"operations": retry}, format="json")
    # then: it succeeds
    assert response.json()["results"][0]["status"] == 200
