"""Bulk filters take `ids` as a JSON array only (the contract); the comma-separated form
belongs to the REST list's query string alone."""

from __future__ import annotations

import pytest

from resources.models import Resource
from tests.factories import ResourceFactory

ENDPOINTS = {
    "update": ("/v1/bulk-update/resources", {"update": {"status": "archived"}}),
    "delete": ("/v1/bulk-delete/resources", {}),
}


@pytest.fixture
def d1_d2(tenant):
    owner = tenant.client_model
    return [ResourceFactory.create(tenant=owner, public_id=i, status="draft") for i in ("d1", "d2")]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", sorted(ENDPOINTS))
@pytest.mark.parametrize("ids", ["d1", "d1,d2"])
def test_ids_as_a_string_is_a_validation_error_and_changes_nothing(api, d1_d2, kind, ids):
    # given
    path, rest = ENDPOINTS[kind]
    # when: `ids` sent as a string instead of a JSON array
    response = api.post(path, {"filter": {"ids": ids}, **rest}, format="json")
    # then: refused with a detail on `ids`; nothing updated or deleted
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert {"field": "ids", "message": "ids must be a JSON array of resource ids"} in error[
        "details"
    ]
    assert sorted(Resource.objects.filter(status="draft").values_list("public_id", flat=True)) == [
        "d1",
        "d2",
    ]


@pytest.mark.django_db
def test_ids_as_a_json_array_still_works(api, d1_d2):
    # when
    response = api.post(
        "/v1/bulk-update/resources",
        {"filter": {"ids": ["d1"]}, "update": {"status": "archived"}},
        format="json",
    )
    # then: only d1 changed
    assert response.status_code == 200, response.content
    assert response.json()["updated_count"] == 1
    assert Resource.objects.get(public_id="d1").status == "archived"
    assert Resource.objects.get(public_id="d2").status == "draft"
