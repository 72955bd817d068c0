"""POST /v1/bulk-delete/resources in the request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from resources.models import Resource
from tests.factories import ResourceFactory

OLD = datetime(2022, 6, 1, tzinfo=UTC)


@pytest.fixture
def archived(tenant):
    return [
        ResourceFactory.create(tenant=tenant.client_model, status="archived", updated_at=OLD)
        for _ in range(3)
    ]


def test_hard_delete_by_filter(api, tenant, archived):
    # given: one row that does not match
    keep = ResourceFactory.create(tenant=tenant.client_model, status="active")
    # when
    response = api.post(
        "/v1/bulk-delete/resources",
        {"filter": {"status": "ARCHIVED", "updated_before": "2023-01-01T00:00:00Z"}},
        format="json",
    )
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["deleted_count"] == 3
    assert body["deleted_ids"] == [r.public_id for r in archived]
    assert isinstance(body["duration_ms"], int)
    assert list(Resource.objects.values_list("pk", flat=True)) == [keep.pk]


def test_soft_delete_keeps_rows_out_of_reads(api, archived):
    # when
    response = api.post(
        "/v1/bulk-delete/resources",
        {"filter": {"status": "archived"}, "options": {"soft_delete": True}},
        format="json",
    )
    # then: rows kept but deleted; a second run finds nothing
    assert response.json()["deleted_count"] == 3
    assert Resource.objects.filter(deleted_at__isnull=False).count() == 3
    assert api.get(f"/v1/resources/{archived[0].public_id}").status_code == 404
    again = api.post("/v1/bulk-delete/resources", {"filter": {"status": "archived"}}, format="json")
    assert again.json()["deleted_count"] == 0


def test_dry_run_and_limit(api, archived):
    # when
    dry = api.post(
        "/v1/bulk-delete/resources",
        {"filter": {"status": "archived"}, "options": {"dry_run": True, "limit": 2}},
        format="json",
    ).json()
    real = api.post(
        "/v1/bulk-delete/resources",
        {"filter": {"status": "archived"}, "options": {"limit": 2}},
        format="json",
    ).json()
    # then
    assert (dry["matched_count"], dry["deleted_count"], dry["deleted_ids"]) == (2, 0, [])
    assert real["deleted_ids"] == [r.public_id for r in archived[:2]]
    assert Resource.objects.count() == 1


def test_other_tenant_rows_are_never_deleted_or_counted(api, tenant, other_tenant, archived):
    # given
    theirs = ResourceFactory.create(tenant=other_tenant.client_model, status="archived")
    # when: by filter, by their id, and everything
    by_id = api.post(
        "/v1/bulk-delete/resources", {"filter": {"ids": [theirs.public_id]}}, format="json"
    ).json()
    everything = api.post(
        "/v1/bulk-delete/resources", {"filter": {"all": True}}, format="json"
    ).json()
    # then
    assert by_id["deleted_count"] == 0
    assert everything["deleted_count"] == 3
    assert Resource.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filter": {}}, "filter"),
        ({}, "filter"),
        ({"filter": {"typo": "x"}}, "typo"),
        ({"filter": {"updated_after": "not a date"}}, "updated_after"),
        ({"filter": {"ids": [1, 2]}}, "ids"),
        ({"filter": {"all": "yes"}}, "filter.all"),
        ({"filter": {"all": True}, "options": {"soft_delete": "true"}}, "options.soft_delete"),
        ({"filter": {"all": True}, "update": {}}, "update"),
    ],
)
def test_invalid_requests_delete_nothing(api, archived, body, field):
    # when
    response = api.post("/v1/bulk-delete/resources", body, format="json")
    # then
    assert response.status_code == 400
    assert field in [d["field"] for d in response.json()["error"]["details"]]
    assert Resource.objects.count() == 3
