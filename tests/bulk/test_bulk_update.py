"""POST /v1/bulk-update/resources in the request (the job path: test_bulk_jobs.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import override_settings

from resources.models import Resource
from tests.factories import ResourceFactory

OLD = datetime(2023, 6, 1, tzinfo=UTC)
NEW = datetime(2024, 6, 1, tzinfo=UTC)


def cookbook_body(**options):
    # The cookbook's "Update by Query" body, with a fixed timestamp for archived_at.
    return {
        "filter": {"status": "draft", "created_before": "2024-01-01T00:00:00Z"},
        "update": {
            "status": "archived",
            "metadata": {"archived_at": "2024-05-01T10:00:00.000Z", "archived_by": "system"},
        },
        "options": {"dry_run": False, "limit": 1000, **options},
    }


@pytest.fixture
def drafts(tenant):
    owner = tenant.client_model
    matching = [
        ResourceFactory.create(tenant=owner, status="draft", created_at=OLD, metadata={"keep": 1})
        for _ in range(3)
    ]
    ResourceFactory.create(tenant=owner, status="draft", created_at=NEW)  # too new
    ResourceFactory.create(tenant=owner, status="active", created_at=OLD)  # not draft
    return matching


def test_cookbook_update_by_query(api, drafts):
    # when
    response = api.post("/v1/bulk-update/resources", cookbook_body(), format="json")
    # then: the cookbook's answer shape
    assert response.status_code == 200
    body = response.json()
    assert body["updated_count"] == 3
    assert isinstance(body["duration_ms"], int)
    assert body["details"] == {"successful": 3, "failed": 0, "skipped": 0}
    # and metadata merged, status set, updated_at moved
    for resource in Resource.objects.filter(pk__in=[r.pk for r in drafts]):
        assert resource.status == "archived"
        assert resource.metadata == {
            "keep": 1,
            "archived_at": "2024-05-01T10:00:00.000Z",
            "archived_by": "system",
        }
        assert resource.updated_at > OLD
    assert Resource.objects.filter(status="draft").count() == 1


def test_dry_run_changes_nothing(api, drafts):
    # when
    response = api.post("/v1/bulk-update/resources", cookbook_body(dry_run=True), format="json")
    # then
    body = response.json()
    assert (body["matched_count"], body["updated_count"]) == (3, 0)
    assert Resource.objects.filter(status="archived").count() == 0


def test_limit_updates_the_first_rows_only(api, drafts):
    # when
    response = api.post("/v1/bulk-update/resources", cookbook_body(limit=2), format="json")
    # then: the two oldest by creation sequence
    assert response.json()["updated_count"] == 2
    archived = Resource.objects.filter(status="archived").order_by("seq")
    assert [r.pk for r in archived] == [r.pk for r in drafts[:2]]


def test_rfc7396_merge_in_sql_matches_python(api, tenant):
    # given: nested metadata, including a non-object where the patch nests
    from resources.merge import merge_patch

    start = {"a": {"b": 1, "c": {"d": 2}}, "x": 5, "drop": 1, "s": "str", "l": [1, 2]}
    patch = {
        "a": {"c": {"d": None, "e": [3]}, "n": None},
        "x": {"y": {"z": None, "w": 1}},
        "drop": None,
        "l": {"k": "v"},
        "new": {"deep": {"er": True}},
        "s": None,
        "u": "ünï",
    }
    resource = ResourceFactory.create(tenant=tenant.client_model, metadata=start)
    # when
    response = api.post(
        "/v1/bulk-update/resources",
        {"filter": {"ids": [resource.public_id]}, "update": {"metadata": patch}},
        format="json",
    )
    # then
    assert response.json()["updated_count"] == 1
    resource.refresh_from_db()
    assert resource.metadata == merge_patch(start, patch)


def test_many_keys_in_one_patch(api, tenant):
    # given: more keys than one jsonb_build_object call takes
    resource = ResourceFactory.create(tenant=tenant.client_model, metadata={"k0": "old"})
    patch = {f"k{i}": i for i in range(120)}
    # when
    api.post(
        "/v1/bulk-update/resources",
        {"filter": {"all": True}, "update": {"metadata": patch}},
        format="json",
    )
    # then
    resource.refresh_from_db()
    assert resource.metadata == patch


@override_settings(PCF_METADATA_MAX_BYTES=200)
def test_row_whose_merged_metadata_is_too_big_fails_alone(api, tenant):
    # given: one row near the cap, one small
    big = ResourceFactory.create(tenant=tenant.client_model, metadata={"blob": "x" * 150})
    small = ResourceFactory.create(tenant=tenant.client_model, metadata={})
    # when: a patch that fits the small row only
    response = api.post(
        "/v1/bulk-update/resources",
        {"filter": {"all": True}, "update": {"metadata": {"more": "y" * 60}, "name": "n"}},
        format="json",
    )
    # then
    body = response.json()
    assert body["details"] == {"successful": 1, "failed": 1, "skipped": 0}
    assert body["errors"][0]["id"] == big.public_id
    small.refresh_from_db()
    big.refresh_from_db()
    assert (small.name, small.metadata) == ("n", {"more": "y" * 60})
    assert big.metadata == {"blob": "x" * 150} and big.name != "n"


@override_settings(PCF_METADATA_MAX_BYTES=200)
def test_heavy_row_that_still_fits_is_merged_in_python(api, tenant):
    # given: stored metadata whose jsonb text plus the patch passes the cap, though the
    # merge replaces the big value and fits
    row = ResourceFactory.create(tenant=tenant.client_model, metadata={"blob": "x" * 150})
    # when
    response = api.post(
        "/v1/bulk-update/resources",
        {"filter": {"all": True}, "update": {"metadata": {"blob": "y" * 80}}},
        format="json",
    )
    # then
    assert response.json()["updated_count"] == 1
    row.refresh_from_db()
    assert row.metadata == {"blob": "y" * 80}


def test_tenant_isolation(api, tenant, other_tenant):
    # given: matching rows in the other tenant, addressed by id too
    theirs = ResourceFactory.create(tenant=other_tenant.client_model, status="draft")
    ResourceFactory.create(tenant=tenant.client_model, status="draft")
    # when
    by_status = api.post(
        "/v1/bulk-update/resources",
        {"filter": {"status": "draft"}, "update": {"status": "published"}},
        format="json",
    )
    by_id = api.post(
        "/v1/bulk-update/resources",
        {"filter": {"ids": [theirs.public_id]}, "update": {"status": "published"}},
        format="json",
    )
    # then: never counted, never touched
    assert by_status.json()["updated_count"] == 1
    assert by_id.json()["updated_count"] == 0
    theirs.refresh_from_db()
    assert theirs.status == "draft"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filter": {}, "update": {"status": "active"}}, "filter"),
        ({"filter": {"all": False}, "update": {"status": "active"}}, "filter.all"),
        ({"filter": {"status": "draft", "all": False}, "update": {"name": "n"}}, "filter.all"),
        ({"filter": {"status": "draft", "all": None}, "update": {"name": "n"}}, "filter.all"),
        ({"update": {"status": "active"}}, "filter"),
        ({"filter": {"stauts": "draft"}, "update": {"status": "active"}}, "stauts"),
        ({"filter": {"created_before": "2024-13-01"}, "update": {"name": "n"}}, "created_before"),
        ({"filter": {"status": "gone"}, "update": {"name": "n"}}, "status"),
        ({"filter": {"ids": ["a", "b"]}, "update": {}}, "update"),
        ({"filter": {"ids": "a,b"}, "update": {"name": "n"}}, "ids"),
        ({"filter": {"all": True}}, "update"),
        ({"filter": {"all": True}, "update": {"status": "nope"}}, "update.status"),
        ({"filter": {"all": True}, "update": {"metadata": None}}, "update.metadata"),
        ({"filter": {"all": True}, "update": {"id": "x"}}, "update.id"),
        (
            {"filter": {"all": True}, "update": {"name": "n"}, "options": {"limit": 0}},
            "options.limit",
        ),
        (
            {"filter": {"all": True}, "update": {"name": "n"}, "options": {"dryrun": 1}},
            "options.dryrun",
        ),
        ({"filter": {"all": True}, "update": {"name": "n"}, "extra": 1}, "extra"),
    ],
)
def test_invalid_requests_change_nothing(api, tenant, body, field):
    # given
    ResourceFactory.create(tenant=tenant.client_model, status="draft", name="before")
    # when
    response = api.post("/v1/bulk-update/resources", body, format="json")
    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in error["details"]]
    assert Resource.objects.get().name == "before"


def test_all_true_updates_every_live_row(api, tenant):
    # given: two live rows and a soft-deleted one
    ResourceFactory.create(tenant=tenant.client_model)
    ResourceFactory.create(tenant=tenant.client_model)
    ResourceFactory.create(tenant=tenant.client_model, deleted_at=NEW)
    # when
    response = api.post(
        "/v1/bulk-update/resources",
        {"filter": {"all": True}, "update": {"type": "video"}},
        format="json",
    )
    # then
    assert response.json()["updated_count"] == 2
    assert Resource.objects.filter(type="video").count() == 2


def test_unauthenticated(anon, db):
    # when
    response = anon.post("/v1/bulk-update/resources", {}, format="json")
    # then
    assert response.status_code == 401
