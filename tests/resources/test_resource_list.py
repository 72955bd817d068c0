"""GET /v1/resources: cursor pagination (also while rows are being inserted), every
filter, and the validation of limit, cursor and filter values."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from resources.models import Resource
from resources.selectors import resource_cursor
from tests.resources.helpers import assert_error, create, fields_of

pytestmark = pytest.mark.django_db


def bulk(tenant: Any, count: int, **fields: Any) -> list[str]:
    """Insert `count` live resources straight into the table (fast set-up)."""
    now = timezone.now()
    start = Resource.objects.count()
    rows = [
        Resource(
            tenant=tenant.client_model,
            public_id=f"bulk_{start + i:05d}",
            name=f"Bulk {start + i}",
            type=fields.get("type", "document"),
            status=fields.get("status", "active"),
            metadata={},
            created_at=now,
            updated_at=now,
        )
        for i in range(count)
    ]
    Resource.objects.bulk_create(rows)
    return [r.public_id for r in rows]


def page(api: APIClient, **params: Any) -> dict[str, Any]:
    response = api.get("/v1/resources?" + urlencode(params))
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def ids_of(body: dict[str, Any]) -> list[str]:
    return [r["id"] for r in body["data"]]


def walk(api: APIClient, **params: Any) -> list[str]:
    """Every id over all pages."""
    seen: list[str] = []
    cursor = None
    while True:
        body = page(api, **params, **({"cursor": cursor} if cursor else {}))
        seen += ids_of(body)
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            return seen


# --- pagination -------------------------------------------------------------------------


def test_default_page_is_100_and_max_is_500(api: APIClient, tenant: Any) -> None:
    # given 501 resources
    ids = bulk(tenant, 501)
    # when listed without a limit, then with limit=500
    default = page(api)
    biggest = page(api, limit=500)
    # then 100 and 500 rows come back, each with a cursor to more
    assert ids_of(default) == ids[:100] and default["meta"]["next_cursor"]
    assert ids_of(biggest) == ids[:500] and biggest["meta"]["next_cursor"]
    # and the last page holds the single remaining row, with no cursor
    last = page(api, limit=500, cursor=biggest["meta"]["next_cursor"])
    assert ids_of(last) == ids[500:] and last["meta"]["next_cursor"] is None


def test_pages_cover_every_row_once(api: APIClient, tenant: Any) -> None:
    # given 10 resources
    ids = bulk(tenant, 10)
    # when walked 3 at a time
    # then every row comes exactly once, in creation order
    assert walk(api, limit=3) == ids


def test_a_full_last_page_has_no_cursor(api: APIClient, tenant: Any) -> None:
    # given exactly two pages' worth of rows
    bulk(tenant, 6)
    # when the second page is fetched
    first = page(api, limit=3)
    second = page(api, limit=3, cursor=first["meta"]["next_cursor"])
    # then it is full and says there is nothing after it
    assert len(ids_of(second)) == 3 and second["meta"]["next_cursor"] is None


def test_pagination_with_inserts_between_pages(api: APIClient, tenant: Any) -> None:
    # given 7 resources
    before = [create(api, name=f"old {i}")["id"] for i in range(7)]
    inserted: list[str] = []
    seen: list[str] = []
    cursor = None
    # when pages of 3 are fetched and new resources are created between fetches
    for round_ in range(20):
        body = page(api, limit=3, **({"cursor": cursor} if cursor else {}))
        seen += ids_of(body)
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            break
        if round_ < 3:
            inserted += [create(api, name=f"new {round_}.{i}")["id"] for i in range(2)]
    # then the walk ends with a null cursor, no id twice, no pre-existing row skipped,
    # and rows created behind the cursor show up later in creation order
    assert cursor is None
    assert len(seen) == len(set(seen))
    assert seen[: len(before)] == before
    assert seen == before + inserted


def test_pagination_with_a_deletion_between_pages(api: APIClient, tenant: Any) -> None:
    # given 6 resources and a first page of 3
    ids = bulk(tenant, 6)
    first = page(api, limit=3)
    # when the last row of that page and the first of the next are deleted
    api.delete(f"/v1/resources/{ids[2]}")
    api.delete(f"/v1/resources/{ids[3]}?soft=true")
    rest = page(api, limit=3, cursor=first["meta"]["next_cursor"])
    # then the walk continues after the cursor without repeating or failing
    assert ids_of(rest) == ids[4:]


@pytest.mark.parametrize("limit", ["501", "0", "-1", "abc", "1.5", "1e2"])
def test_bad_limits_are_400(api: APIClient, limit: str) -> None:
    # given a limit that is over 500, zero, negative or not an integer
    # when listing
    response = api.get(f"/v1/resources?limit={limit}")
    # then 400 on `limit`
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert fields_of(error) == ["limit"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "bm90LWEtY3Vyc29y",  # base64 of "not-a-cursor"
        base64.urlsafe_b64encode(b"s:abc").decode(),
        base64.urlsafe_b64encode(b"x:12").decode(),
        base64.urlsafe_b64encode(b"s:12").decode().rstrip("="),  # the old, readable format
        "%FF%FE",
        "\u00e9",
    ],
)
def test_bad_cursors_are_400(api: APIClient, cursor: str) -> None:
    # given a cursor the server never issued
    # when listing with it
    response = api.get("/v1/resources", {"cursor": cursor})
    # then 400 on `cursor`
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert fields_of(error) == ["cursor"]


def test_a_cursor_beyond_the_end_gives_an_empty_page(api: APIClient, tenant: Any) -> None:
    # given a cursor past every row (even past bigint)
    bulk(tenant, 2)
    cursor = resource_cursor(tenant=tenant.client_model, seq=99999999999999999999999)
    # when listing with it
    body = page(api, cursor=cursor)
    # then an empty last page
    assert body == {"data": [], "meta": {"next_cursor": None}}


# --- filters ----------------------------------------------------------------------------


def test_filter_by_status_and_type(api: APIClient, tenant: Any) -> None:
    # given resources of mixed status and type
    docs_active = bulk(tenant, 2, type="document", status="active")
    bulk(tenant, 2, type="image", status="active")
    docs_archived = bulk(tenant, 2, type="document", status="archived")
    # when filtered
    # then each filter narrows, and they combine with AND
    assert walk(api, status="archived") == docs_archived
    assert walk(api, type="document") == docs_active + docs_archived
    assert walk(api, type="document", status="active") == docs_active
    assert walk(api, type="video") == []


def test_filter_values_ignore_case(api: APIClient, tenant: Any) -> None:
    # given archived documents
    ids = bulk(tenant, 2, status="archived")
    # when filtered with capitals (as GraphQL-minded clients send)
    # then they match
    assert walk(api, status="ARCHIVED", type="Document") == ids


def test_filter_by_ids_returns_found_ones_in_creation_order(api: APIClient, tenant: Any) -> None:
    # given five resources
    ids = bulk(tenant, 5)
    # when asked for three of them (out of order) plus an unknown one
    wanted = ",".join([ids[3], "missing_1", ids[0], ids[1]])
    # then the known ones come in creation order
    assert walk(api, ids=wanted) == [ids[0], ids[1], ids[3]]


def test_filter_by_ids_with_pagination(api: APIClient, tenant: Any) -> None:
    # given five resources / when four are asked for, two a page
    ids = bulk(tenant, 5)
    # then paging works within the filter
    assert walk(api, ids=",".join(ids[:4]), limit=2) == ids[:4]


def test_filter_by_dates(api: APIClient, tenant: Any) -> None:
    # given three resources created and updated at known instants
    old, mid, new = bulk(tenant, 3)
    jan = datetime(2024, 1, 1, tzinfo=UTC)
    for public_id, created, updated in (
        (old, jan + timedelta(days=9), jan + timedelta(days=29)),
        (mid, jan + timedelta(days=14, hours=12), jan + timedelta(days=15, hours=12)),
        (new, jan + timedelta(days=19), jan + timedelta(days=19)),
    ):
        Resource.objects.filter(public_id=public_id).update(created_at=created, updated_at=updated)
    # when filtered by created/updated before/after
    # then only the rows on the right side of each bound come back
    assert walk(api, created_after="2024-01-12T00:00:00Z") == [mid, new]
    assert walk(api, created_before="2024-01-16T00:00:00Z") == [old, mid]
    assert walk(
        api, created_before="2024-01-16T00:00:00Z", created_after="2024-01-11T00:00:00Z"
    ) == [mid]
    assert walk(api, updated_after="2024-01-17T00:00:00Z") == [old, new]
    assert walk(api, updated_before="2024-01-17T00:00:00Z") == [mid]
    # and a timestamp with an offset means that instant in UTC (13:00+02:00 = 11:00Z)
    assert walk(api, created_after="2024-01-15T13:00:00+02:00") == [mid, new]
    assert walk(api, created_after="2024-01-15T15:00:00+02:00") == [new]


def test_filter_dates_are_exclusive(api: APIClient, tenant: Any) -> None:
    # given a resource created at a known instant
    (only,) = bulk(tenant, 1)
    instant = datetime(2024, 3, 1, 12, tzinfo=UTC)
    Resource.objects.filter(public_id=only).update(created_at=instant, updated_at=instant)
    # when filtered with that exact instant as the bound
    # then neither before nor after includes it
    assert walk(api, created_before="2024-03-01T12:00:00Z") == []
    assert walk(api, created_after="2024-03-01T12:00:00Z") == []
    assert walk(api, created_after="2024-03-01T11:59:59Z") == [only]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "deleted"}, "status"),
        ({"status": ""}, "status"),
        ({"type": "pdf"}, "type"),
        ({"ids": "ok,not ok"}, "ids"),
        ({"ids": "été"}, "ids"),
        ({"created_before": "yesterday"}, "created_before"),
        ({"created_after": "2024-13-01T00:00:00Z"}, "created_after"),
        ({"updated_before": "2024-02-30"}, "updated_before"),
        ({"updated_after": "12:00"}, "updated_after"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_filters_are_400(api: APIClient, params: dict[str, str], field: str) -> None:
    # given an unknown enum value, malformed id, bad date or unknown parameter
    # when listing
    response = api.get("/v1/resources?" + urlencode(params))
    # then 400 names the parameter
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in fields_of(error)


def test_all_bad_filters_are_reported_together(api: APIClient) -> None:
    # given two bad filters / when listing
    response = api.get("/v1/resources?status=nope&created_after=never")
    # then both are in details
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert sorted(fields_of(error)) == ["created_after", "status"]
