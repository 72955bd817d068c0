"""Soft delete, and tenant isolation on every Resource endpoint: another tenant's id is
a 404 (never 403), absent from lists and `?ids=`, and never modified."""

from __future__ import annotations

from typing import Any

import pytest
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from resources.models import Resource
from tests.resources.helpers import assert_error, create

pytestmark = pytest.mark.django_db


# --- soft delete ------------------------------------------------------------------------


def test_soft_delete_hides_the_resource_but_keeps_the_row(api: APIClient) -> None:
    # given two resources
    keep = create(api, name="keep")
    gone = create(api, name="gone", id="soft-1")
    # when one is soft-deleted
    response = api.delete("/v1/resources/soft-1?soft=true")
    # then 204; it answers 404 on GET, PATCH and DELETE, and leaves the list and ?ids=
    assert response.status_code == 204
    assert_error(api.get("/v1/resources/soft-1"), 404, "NOT_FOUND")
    assert_error(api.patch("/v1/resources/soft-1", {"name": "x"}, format="json"), 404, "NOT_FOUND")
    assert_error(api.delete("/v1/resources/soft-1"), 404, "NOT_FOUND")
    assert_error(api.delete("/v1/resources/soft-1?soft=true"), 404, "NOT_FOUND")
    assert [r["id"] for r in api.get("/v1/resources").json()["data"]] == [keep["id"]]
    assert api.get("/v1/resources?ids=soft-1").json()["data"] == []
    # and the row is still stored, marked deleted, with its data intact
    row = Resource.objects.get(public_id=gone["id"])
    assert row.deleted_at is not None and row.name == "gone"


# --- tenant isolation -------------------------------------------------------------------


@pytest.fixture
def foreign(other_tenant: Any) -> dict[str, Any]:
    """A resource of another tenant, with its stored state to compare against."""
    data = create(other_tenant.api, id="shared-id", name="theirs", metadata={"k": 1})
    return data


def stored(public_id: str, tenant: Any) -> dict[str, Any]:
    return model_to_dict(Resource.objects.get(public_id=public_id, tenant=tenant.client_model))


def test_get_of_another_tenants_id_is_404(api: APIClient, foreign: dict[str, Any]) -> None:
    # given another tenant's resource / when I fetch its id / then 404, not 403
    assert_error(api.get(f"/v1/resources/{foreign['id']}"), 404, "NOT_FOUND")


def test_patch_of_another_tenants_id_is_404_and_changes_nothing(
    api: APIClient, foreign: dict[str, Any], other_tenant: Any
) -> None:
    # given another tenant's resource
    before = stored(foreign["id"], other_tenant)
    # when I patch its id
    response = api.patch(
        f"/v1/resources/{foreign['id']}",
        {"name": "mine now", "metadata": {"k": None}},
        format="json",
    )
    # then 404 and their row is unchanged
    assert_error(response, 404, "NOT_FOUND")
    assert stored(foreign["id"], other_tenant) == before


@pytest.mark.parametrize("soft", ["", "?soft=true"])
def test_delete_of_another_tenants_id_is_404_and_deletes_nothing(
    api: APIClient, foreign: dict[str, Any], other_tenant: Any, soft: str
) -> None:
    # given another tenant's resource
    before = stored(foreign["id"], other_tenant)
    # when I delete its id (hard or soft)
    response = api.delete(f"/v1/resources/{foreign['id']}{soft}")
    # then 404 and their row is untouched
    assert_error(response, 404, "NOT_FOUND")
    assert stored(foreign["id"], other_tenant) == before


def test_lists_and_ids_filter_show_only_my_resources(
    api: APIClient, foreign: dict[str, Any], other_tenant: Any
) -> None:
    # given one resource each, theirs also asked for by id
    mine = create(api, name="mine")
    # when I list, filter by both ids, and page
    listed = api.get("/v1/resources").json()["data"]
    by_ids = api.get(f"/v1/resources?ids={foreign['id']},{mine['id']}").json()["data"]
    # then only mine appears; theirs lists only theirs
    assert [r["id"] for r in listed] == [mine["id"]]
    assert [r["id"] for r in by_ids] == [mine["id"]]
    theirs = other_tenant.api.get("/v1/resources").json()["data"]
    assert [r["id"] for r in theirs] == [foreign["id"]]


def test_a_cursor_from_another_tenant_is_refused(
    api: APIClient, other_tenant: Any, foreign: dict[str, Any]
) -> None:
    # given another tenant with two pages of resources and their cursor
    create(other_tenant.api, name="theirs 2")
    cursor = other_tenant.api.get("/v1/resources?limit=1").json()["meta"]["next_cursor"]
    assert cursor
    # when I use their cursor
    response = api.get(f"/v1/resources?cursor={cursor}")
    # then it is not a cursor of my list: a 400 on `cursor`, none of their rows
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "cursor", "message": "Invalid cursor"}]


def test_the_same_client_id_may_exist_in_two_tenants(
    api: APIClient, foreign: dict[str, Any], other_tenant: Any
) -> None:
    # given another tenant's resource with id "shared-id"
    # when I create one with the same id
    mine = create(api, id="shared-id", name="mine")
    # then both exist, each visible only to its tenant
    assert api.get("/v1/resources/shared-id").json()["data"]["name"] == "mine"
    assert other_tenant.api.get("/v1/resources/shared-id").json()["data"]["name"] == "theirs"
    # and my update and delete touch only mine
    api.patch("/v1/resources/shared-id", {"name": "mine 2"}, format="json")
    api.delete("/v1/resources/shared-id")
    assert stored("shared-id", other_tenant)["name"] == "theirs"
    assert mine["id"] == foreign["id"]
