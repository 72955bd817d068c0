"""Live-review fixes: methods are upper case only, and a malformed envelope names
every problem (an unknown field and the missing `operations`)."""

from __future__ import annotations

import pytest

from resources.models import Resource
from tests.batch.helpers import create, post_batch


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "Post", "delete", "patch"])
def test_lower_or_mixed_case_method_is_that_operations_validation_error(api, make_resource, method):
    # given: a resource the operation could reach, and a valid neighbour operation
    make_resource("x")
    # when
    response = post_batch(
        api, [{"method": method, "path": "/resources/x", "body": {}}, create("ok")]
    )
    # then: the envelope is fine (200); the bad operation never ran, the other did
    assert response.status_code == 200
    bad, good = response.json()["results"]
    assert bad["status"] == 400
    assert bad["error"]["code"] == "VALIDATION_ERROR"
    assert bad["error"]["details"] == [
        {
            "field": "method",
            "message": "method must be one of GET, POST, PATCH, DELETE (upper case)",
        }
    ]
    assert bad["originalOperation"]["method"] == method
    assert good["status"] == 201
    assert Resource.objects.filter(public_id="x", deleted_at__isnull=True).exists()


@pytest.mark.django_db
def test_misspelt_operations_key_says_unknown_field_and_operations_required(api):
    # when: `ops` instead of `operations`
    response = api.post("/v1/batch", {"ops": []}, format="json")
    # then: both problems in the details
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    fields = {d["field"]: d["message"] for d in error["details"]}
    assert fields["ops"] == "Unknown field"
    assert "required" in fields["operations"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"operations": "nope", "extra": 1}, "operations must be a list"),
        ({"operations": [], "extra": 1}, "operations must not be empty"),
    ],
)
def test_unknown_field_reported_with_the_operations_problem(api, body, message):
    # when
    response = api.post("/v1/batch", body, format="json")
    # then
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert {"field": "extra", "message": "Unknown field"} in details
    assert {"field": "operations", "message": message} in details
