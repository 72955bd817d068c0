"""Envelope, limits, paths, references, dependencies, per-operation keys, tenancy,
and the grouped write of consecutive creates."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from resources.models import Resource
from tests.batch.helpers import create, post_batch


def statuses(response):
    return [r["status"] for r in response.json()["results"]]


# --- envelope -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"operations": "nope"},
        {"operations": []},
        {"operations": [create()], "options": "atomic"},
        {"operations": [create()], "options": {"atomc": True}},
        {"operations": [create()], "options": {"atomic": "yes"}},
        {"operations": [create()], "options": {"parallel": 0}},
        {"operations": [create()], "options": {"timeout_ms": -5}},
        {"operations": [create()], "extra": 1},
        [create()],
    ],
)
def test_malformed_envelope_is_400_and_runs_nothing(api, body):
    # when
    response = api.post("/v1/batch", body, format="json")
    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert not Resource.objects.exists()


@pytest.mark.django_db
def test_invalid_json_is_400(api):
    response = api.generic("POST", "/v1/batch", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.django_db
def test_unauthenticated_batch_is_401(anon):
    response = anon.post("/v1/batch", {"operations": [create()]}, format="json")
    assert response.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    "operation",
    [
        "not an object",
        None,
        {"path": "/resources"},
        {"method": "POST"},
        {"method": "PUT", "path": "/resources/x"},
        {"method": "HEAD", "path": "/resources"},
        {"method": "POST", "path": "/resources", "body": {}, "surprise": 1},
        {"method": "GET", "path": "/resources", "depends_on": "op9"},
        {"method": "GET", "path": "/resources", "depends_on": ["ghost"]},
        {"id": "has.dot", "method": "GET", "path": "/resources"},
        {"method": "GET", "path": "/resources", "idempotency_key": ""},
    ],
)
def test_malformed_operation_is_its_own_validation_error(api, operation):
    # when: a malformed operation between two good ones
    response = post_batch(api, [create("a"), operation, create("b")])
    # then: 200, only that one failed, the others ran
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 201]
    assert results[1]["error"]["code"] == "VALIDATION_ERROR"
    assert results[1]["originalOperation"] == operation


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


# --- limits ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_more_than_1000_operations_is_413_before_anything_runs(api):
    response = post_batch(api, [create(f"n{i}") for i in range(1001)])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "BATCH_TOO_LARGE"
    assert not Resource.objects.exists()


@pytest.mark.django_db
def test_1000_operations_are_accepted(api):
    response = post_batch(api, [create(f"n{i}") for i in range(1000)])
    assert response.status_code == 200
    assert response.json()["meta"]["successful"] == 1000
    assert Resource.objects.count() == 1000


@pytest.mark.django_db
def test_deletes_only_may_reach_5000_but_not_more(api, settings):
    # given: the real limits
    assert settings.PCF_BATCH_MAX_DELETE_OPERATIONS == 5000
    deletes = [{"method": "DELETE", "path": f"/resources/r{i}"} for i in range(5001)]
    # when/then: 5,001 deletes are refused
    response = post_batch(api, deletes)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "BATCH_TOO_LARGE"
    # and a mix over 1,000 with one non-delete is refused too
    response = post_batch(api, [*deletes[:1000], create()])
    assert response.status_code == 413
    assert not Resource.objects.exists()


@pytest.mark.django_db
def test_all_delete_batches_use_the_delete_limit(api, settings):
    # given: small limits to keep the run short
    settings.PCF_BATCH_MAX_OPERATIONS = 3
    settings.PCF_BATCH_MAX_DELETE_OPERATIONS = 5
    deletes = [{"method": "DELETE", "path": f"/resources/r{i}"} for i in range(5)]
    # when/then: 5 deletes run (404s), 4 mixed do not
    assert post_batch(api, deletes).status_code == 200
    assert post_batch(api, [*deletes[:3], create()]).status_code == 413
    assert post_batch(api, [*deletes, deletes[0]]).status_code == 413


@pytest.mark.django_db
def test_more_than_500_gets_is_413(api):
    gets = [{"method": "GET", "path": "/resources/x"} for _ in range(501)]
    response = post_batch(api, gets)
    assert response.status_code == 413
    assert "GET" in response.json()["error"]["message"]
    assert post_batch(api, gets[:500]).status_code == 200


# --- paths ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/batch"),
        ("POST", "/v1/batch"),
        ("POST", "/bulk/resources"),
        ("POST", "/import/resources"),
        ("POST", "/bulk-update/resources"),
        ("POST", "/bulk-delete/resources"),
        ("GET", "/jobs"),
        ("GET", "/resources/../jobs"),
        ("GET", "/resources/%2e%2e"),
        ("GET", "/resources/..%2fjobs"),
        ("GET", "/../resources"),
        ("GET", "http://127.0.0.1:8000/v1/resources"),
        ("GET", "//evil.example.com/resources"),
        ("GET", "resources"),
        ("GET", "/resources/a/b"),
        ("GET", "/resources/x?limit=1"),
        ("POST", "/resources?x=1"),
        ("DELETE", "/resources/x?hard=1"),
        ("GET", "/healthz"),
        ("GET", "/resources#frag"),
        ("GET", ""),
    ],
)
def test_bad_paths_are_validation_errors(api, method, path):
    # when
    response = post_batch(api, [{"method": method, "path": path}])
    # then: that operation's VALIDATION_ERROR, never a crash or another endpoint
    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["status"] == 400, result
    assert result["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method,path", [("POST", "/resources/x"), ("PATCH", "/resources"), ("DELETE", "/resources")]
)
def test_method_not_allowed_on_a_path_is_405_like_rest(api, method, path):
    response = post_batch(api, [{"method": method, "path": path, "body": {}}])
    assert response.json()["results"][0]["status"] == 405
    assert api.generic(method, f"/v1{path}").status_code == 405


@pytest.mark.django_db
def test_v1_prefix_and_trailing_slash(api, make_resource):
    make_resource("x")
    response = post_batch(
        api,
        [
            {"method": "GET", "path": "/v1/resources/x"},
            {"method": "GET", "path": "/resources/x/"},
            {"method": "GET", "path": "/v1/resources?ids=x,y&limit=5"},
        ],
    )
    assert statuses(response) == [200, 200, 200]
    assert [r["id"] for r in response.json()["results"][2]["body"]["data"]] == ["x"]


@pytest.mark.django_db
def test_get_list_uses_the_rest_list_logic(api, make_resource):
    # given
    for i in range(3):
        make_resource(f"r{i}", status="draft" if i else "active")
    # when: the same queries through batch and REST
    queries = ["status=draft&limit=1", "type=document", "limit=600", "colour=red", "status=nope"]
    response = post_batch(api, [{"method": "GET", "path": f"/resources?{q}"} for q in queries])
    # then: identical status and body
    for query, result in zip(queries, response.json()["results"], strict=True):
        rest = api.get(f"/v1/resources?{query}")
        assert result["status"] == rest.status_code, query
        if rest.status_code == 200:
            assert result["body"] == rest.json()
        else:
            assert result["error"] == rest.json()["error"]


# --- references and dependencies ------------------------------------------------------


@pytest.mark.django_db
def test_references_in_path_and_body(api):
    # when: op2 patches what op1 created and copies its name into metadata
    response = post_batch(
        api,
        [
            create("parent"),
            create("child"),
            {
                "method": "PATCH",
                "path": "/resources/{op2.body.data.id}",
                "body": {
                    "metadata": {
                        "parent": "{op1.body.data.id}",
                        "label": "child of {op1.body.data.name} ({op1.status})",
                        "status_code": "{op1.status}",
                        "literal": "{not_an_op.body}",
                    }
                },
            },
        ],
    )
    # then
    assert statuses(response) == [201, 201, 200]
    parent_id = response.json()["results"][0]["body"]["data"]["id"]
    metadata = response.json()["results"][2]["body"]["data"]["metadata"]
    assert metadata == {
        "parent": parent_id,
        "label": "child of parent (201)",
        "status_code": 201,
        "literal": "{not_an_op.body}",
    }


@pytest.mark.django_db
def test_reference_to_a_later_operation_is_invalid(api):
    response = post_batch(
        api,
        [
            {"method": "GET", "path": "/resources/{op2.body.data.id}"},
            create("x"),
        ],
    )
    assert statuses(response) == [400, 201]


@pytest.mark.django_db
def test_unresolvable_reference_is_that_operations_error(api, make_resource):
    make_resource("x")
    response = post_batch(
        api,
        [
            {"method": "DELETE", "path": "/resources/x"},
            {"method": "GET", "path": "/resources/{op1.body.data.id}"},
        ],
    )
    assert statuses(response) == [204, 400]
    assert "does not resolve" in response.json()["results"][1]["error"]["details"][0]["message"]


@pytest.mark.django_db
def test_failed_dependency_gives_424_to_dependants(api):
    # when: op1 fails; op2 references it, op3 names it in depends_on, op4 is independent
    response = post_batch(
        api,
        [
            {"method": "POST", "path": "/resources", "body": {"name": ""}},
            {"method": "GET", "path": "/resources/{op1.body.data.id}"},
            {"method": "GET", "path": "/resources?limit=1", "depends_on": ["op1"]},
            create("independent"),
            {"id": "chain", "method": "GET", "path": "/resources", "depends_on": ["op3"]},
        ],
    )
    # then
    results = response.json()["results"]
    assert statuses(response) == [400, 424, 424, 201, 424]
    assert results[1]["error"]["code"] == "SKIPPED"
    assert "op1" in results[1]["error"]["message"]
    assert "op3" in results[4]["error"]["message"]
    meta = response.json()["meta"]
    assert (meta["successful"], meta["failed"], meta["skipped"]) == (1, 1, 3)


@pytest.mark.django_db
def test_depends_on_a_successful_operation_runs(api):
    response = post_batch(
        api,
        [create("a"), {"method": "GET", "path": "/resources?limit=5", "depends_on": ["op1"]}],
    )
    assert statuses(response) == [201, 200]
    assert len(response.json()["results"][1]["body"]["data"]) == 1


@pytest.mark.django_db
def test_duplicate_operation_ids_are_invalid(api):
    response = post_batch(api, [{"id": "a", **create()}, {"id": "a", **create()}])
    assert statuses(response) == [201, 400]


# --- per-operation idempotency keys ----------------------------------------------------


@pytest.mark.django_db
def test_operation_idempotency_key_applies_once_across_batches(api):
    op = {"idempotency_key": "make-a", **create("a")}
    # when: the same keyed operation in two batches
    first = post_batch(api, [op]).json()["results"][0]
    second = post_batch(api, [op, create("b")]).json()["results"][0]
    # then: one resource "a", and the second batch got the first result back
    assert first["status"] == second["status"] == 201
    assert first["body"] == second["body"]
    assert Resource.objects.filter(name="a").count() == 1


@pytest.mark.django_db
def test_operation_idempotency_key_with_another_operation_is_422(api):
    post_batch(api, [{"idempotency_key": "k", **create("a")}])
    response = post_batch(api, [{"idempotency_key": "k", **create("different")}])
    result = response.json()["results"][0]
    assert result["status"] == 422
    assert result["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


@pytest.mark.django_db
def test_failed_keyed_operation_is_not_remembered(api, make_resource):
    op = {"idempotency_key": "p", "method": "PATCH", "path": "/resources/x", "body": {"name": "n"}}
    assert post_batch(api, [op]).json()["results"][0]["status"] == 404
    make_resource("x")
    assert post_batch(api, [op]).json()["results"][0]["status"] == 200


# --- tenancy --------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_tenants_resource_is_404_in_batch(api, other_tenant):
    # given: a resource of the other tenant
    from tests.factories import ResourceFactory

    ResourceFactory.create(tenant=other_tenant.client_model, public_id="theirs", name="theirs")
    # when: every operation on it
    response = post_batch(
        api,
        [
            {"method": "GET", "path": "/resources/theirs"},
            {"method": "PATCH", "path": "/resources/theirs", "body": {"name": "mine"}},
            {"method": "DELETE", "path": "/resources/theirs"},
            {"method": "GET", "path": "/resources?ids=theirs"},
            {
                "method": "POST",
                "path": "/resources",
                "body": {"id": "theirs", "name": "mine", "type": "other"},
            },
        ],
    )
    # then: 404s; the list is empty; the same id is free in this tenant
    assert statuses(response) == [404, 404, 404, 200, 201]
    assert response.json()["results"][3]["body"]["data"] == []
    assert Resource.objects.get(tenant=other_tenant.client_model).name == "theirs"


# --- grouped creates ------------------------------------------------------------------


@pytest.mark.django_db
def test_consecutive_creates_are_one_insert_with_per_operation_results(api, make_resource):
    # given: a taken id and an invalid body inside a run of 50 creates
    make_resource("taken")
    ops = [create(f"n{i}") for i in range(50)]
    ops[10] = {
        "method": "POST",
        "path": "/resources",
        "body": {"id": "taken", "name": "x", "type": "image"},
    }
    ops[20] = {"method": "POST", "path": "/resources", "body": {"name": "x", "type": "nope"}}
    # when
    with CaptureQueriesContext(connection) as queries:
        response = post_batch(api, ops)
    # then: one INSERT for the run; per-operation 201 / 409 / 400
    inserts = [q for q in queries.captured_queries if "INSERT INTO resources_resource" in q["sql"]]
    assert len(inserts) == 1
    codes = statuses(response)
    assert codes[10] == 409 and codes[20] == 400
    assert codes.count(201) == 48
    assert response.json()["results"][10]["error"]["code"] == "CONFLICT"
    assert Resource.objects.count() == 49


@pytest.mark.django_db
def test_same_client_id_twice_in_one_batch_is_a_conflict(api):
    body = {"id": "dup", "name": "x", "type": "image"}
    response = post_batch(
        api,
        [
            {"method": "POST", "path": "/resources", "body": body},
            {"method": "POST", "path": "/resources", "body": body},
        ],
    )
    assert statuses(response) == [201, 409]
