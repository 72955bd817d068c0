"""Every Resource endpoint end to end: POST / GET / PATCH / DELETE and the list."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from resources.models import Resource
from tests.resources.helpers import assert_error, create

pytestmark = pytest.mark.django_db

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_create_returns_201_with_the_resource_and_defaults(api: APIClient, tenant: Any) -> None:
    # given a valid body without status or metadata
    body = {"name": "Quarterly report", "type": "document"}
    # when it is posted
    response = api.post("/v1/resources", body, format="json")
    # then it is created with a server id, the default status and empty metadata
    assert response.status_code == 201
    data = response.json()["data"]
    assert set(data) == {"id", "name", "type", "status", "metadata", "created_at", "updated_at"}
    assert re.fullmatch(r"res_[0-9a-f]{28}", data["id"])
    assert (data["name"], data["type"], data["status"], data["metadata"]) == (
        "Quarterly report",
        "document",
        "active",
        {},
    )
    assert ISO_Z.match(data["created_at"]) and data["created_at"] == data["updated_at"]
    # and it is stored for this tenant
    stored = Resource.objects.get(public_id=data["id"])
    assert stored.tenant_id == tenant.client_model.pk and stored.deleted_at is None


def test_create_accepts_every_field_and_a_client_id(api: APIClient) -> None:
    # given a body with all fields, including a client-chosen id
    body = {
        "id": "existing_123",
        "name": "Clip",
        "type": "video",
        "status": "draft",
        "metadata": {"tags": ["a", "b"], "size": {"w": 1, "h": 2}},
    }
    # when it is posted
    response = api.post("/v1/resources", body, format="json")
    # then the resource echoes every field, with the client's id
    assert response.status_code == 201
    data = response.json()["data"]
    assert {k: data[k] for k in body} == body


def test_get_returns_the_resource(api: APIClient) -> None:
    # given a resource
    created = create(api, name="Photo", type="image", metadata={"k": 1})
    # when it is fetched by id
    response = api.get(f"/v1/resources/{created['id']}")
    # then the same representation comes back
    assert response.status_code == 200
    assert response.json() == {"data": created}


def test_get_accepts_a_trailing_slash(api: APIClient) -> None:
    # given a resource
    created = create(api)
    # when it is fetched with a trailing slash
    response = api.get(f"/v1/resources/{created['id']}/")
    # then it is found all the same
    assert response.status_code == 200 and response.json()["data"]["id"] == created["id"]


def test_patch_updates_given_fields_only_and_bumps_updated_at(api: APIClient) -> None:
    # given a resource with metadata
    created = create(api, name="Old", type="document", status="draft", metadata={"a": 1})
    # when only name and status are patched
    response = api.patch(
        f"/v1/resources/{created['id']}", {"name": "New", "status": "published"}, format="json"
    )
    # then those change, the rest stays, updated_at moves forward and created_at does not
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["name"], data["status"], data["type"], data["metadata"]) == (
        "New",
        "published",
        "document",
        {"a": 1},
    )
    assert data["created_at"] == created["created_at"]
    assert data["updated_at"] > created["updated_at"]
    # and the change is stored
    assert api.get(f"/v1/resources/{created['id']}").json()["data"] == data


def test_patch_with_an_empty_body_changes_nothing_but_updated_at(api: APIClient) -> None:
    # given a resource
    created = create(api, name="Same")
    # when an empty object is patched
    response = api.patch(f"/v1/resources/{created['id']}", {}, format="json")
    # then the fields are unchanged
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["name"] == "Same" and data["type"] == created["type"]


def test_patch_can_change_type(api: APIClient) -> None:
    # given a document
    created = create(api, type="document")
    # when its type is patched
    response = api.patch(f"/v1/resources/{created['id']}", {"type": "audio"}, format="json")
    # then the type changes
    assert response.status_code == 200 and response.json()["data"]["type"] == "audio"


def test_hard_delete_answers_204_and_removes_the_row(api: APIClient) -> None:
    # given a resource
    created = create(api)
    # when it is deleted
    response = api.delete(f"/v1/resources/{created['id']}")
    # then 204 with no body, the row is gone, and the id can be used again
    assert response.status_code == 204 and response.content == b""
    assert not Resource.objects.filter(public_id=created["id"]).exists()
    assert_error(api.get(f"/v1/resources/{created['id']}"), 404, "NOT_FOUND")
    assert create(api, id=created["id"])["id"] == created["id"]


def test_delete_of_an_unknown_id_is_404(api: APIClient) -> None:
    # given no resource with that id
    # when it is deleted
    response = api.delete("/v1/resources/res_doesnotexist")
    # then 404 NOT_FOUND
    assert_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("flag", ["maybe", "", "1", "0", "TRUE"])
def test_delete_with_a_bad_soft_flag_is_400_and_deletes_nothing(api: APIClient, flag: str) -> None:
    # given a resource
    created = create(api)
    # when deleted with a soft flag that is not an OpenAPI boolean
    response = api.delete(f"/v1/resources/{created['id']}?soft={flag}")
    # then 400 names the parameter and the resource is still there
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "soft"
    assert api.get(f"/v1/resources/{created['id']}").status_code == 200


def test_soft_false_is_a_hard_delete(api: APIClient) -> None:
    # given a resource
    created = create(api)
    # when deleted with soft=false
    response = api.delete(f"/v1/resources/{created['id']}?soft=false")
    # then the row is gone
    assert response.status_code == 204
    assert not Resource.objects.filter(public_id=created["id"]).exists()


def test_list_returns_live_resources_in_creation_order(api: APIClient) -> None:
    # given three resources
    ids = [create(api, name=f"R{i}")["id"] for i in range(3)]
    # when the list is fetched
    response = api.get("/v1/resources")
    # then all three come in creation order, with no next page
    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body["data"]] == ids
    assert body["meta"] == {"next_cursor": None}


def test_list_of_an_empty_tenant(api: APIClient) -> None:
    # given a tenant without resources
    # when the list is fetched
    response = api.get("/v1/resources/")
    # then an empty page with no cursor
    assert response.status_code == 200
    assert response.json() == {"data": [], "meta": {"next_cursor": None}}


def test_timestamps_are_utc_with_z(api: APIClient) -> None:
    # given a resource
    created = create(api)
    # when its timestamps are read
    stamp = datetime.fromisoformat(created["created_at"].replace("Z", "+00:00"))
    # then they are UTC and close to now
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
