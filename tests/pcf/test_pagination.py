"""pcf.pagination: one opaque, sealed cursor for every list (resources, jobs, a job's
errors). Cursors round-trip, say nothing of the position they hold, and any cursor
the server did not issue for that very listing and tenant is the same 400."""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from jobs.models import Job, JobError
from pcf.exceptions import ValidationError
from pcf.pagination import CURSOR_LENGTH, CursorScope, decode_cursor, encode_cursor, parse_limit
from resources.models import Resource
from resources.selectors import resource_cursor
from tests.jobs.helpers import make_job
from tests.resources.helpers import create
from tests.tenants import Tenant

pytestmark = pytest.mark.django_db

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
INVALID_CURSOR = {
    "error": {
        "code": "VALIDATION_ERROR",
        "message": "Validation failed",
        "details": [{"field": "cursor", "message": "Invalid cursor"}],
    }
}


def assert_invalid_cursor(api: APIClient, path: str, cursor: str) -> None:
    response = api.get(path, {"cursor": cursor})
    assert response.status_code == 400, response.content
    assert response.json() == INVALID_CURSOR


def walk(api: APIClient, path: str) -> tuple[list[Any], list[str]]:
    """Every row of a listing, one per page, and the cursors that led there."""
    rows: list[Any] = []
    cursors: list[str] = []
    params: dict[str, str] = {"limit": "1"}
    while True:
        response = api.get(path, params)
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["data"]
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            return rows, cursors
        cursors.append(cursor)
        params["cursor"] = cursor


def job_with_errors(tenant: Tenant, count: int) -> Job:
    job = make_job(tenant.client_model, [], start=False)
    for row in range(1, count + 1):
        JobError.objects.create(job=job, row=row, field="name", message=f"bad {row}")
    return job


def tampered(cursor: str) -> str:
    middle = len(cursor) // 2
    return cursor[:middle] + ("B" if cursor[middle] == "A" else "A") + cursor[middle + 1 :]


# --- the codec --------------------------------------------------------------------------


def test_a_cursor_round_trips_and_has_one_length() -> None:
    # given a scope and positions of every listing's shape
    scope = CursorScope("jobs", 7)
    for position in ["1", "9" * 25, "1733318400000000|job_" + "a" * 24]:
        # when one is sealed and opened
        cursor = encode_cursor(scope, position)
        # then it comes back, the cursor is base64url of the documented length
        assert decode_cursor(scope, cursor) == position
        assert len(cursor) == CURSOR_LENGTH
        assert set(cursor) <= set(BASE64URL)


def test_a_cursor_is_refused_under_another_key_unless_it_is_a_fallback() -> None:
    # given a cursor sealed under the current SECRET_KEY
    scope = CursorScope("resources", 1)
    with override_settings(SECRET_KEY="old-key-" + "x" * 50):
        cursor = encode_cursor(scope, "42")
    # when the key changes, then it is refused
    with pytest.raises(ValidationError):
        decode_cursor(scope, cursor)
    # and while the old key is a fallback it is still read
    with override_settings(SECRET_KEY_FALLBACKS=["old-key-" + "x" * 50]):
        assert decode_cursor(scope, cursor) == "42"


def test_parse_limit_reports_the_limit_field() -> None:
    # when the limit is out of range, then the 400 names `limit`
    with pytest.raises(ValidationError) as refused:
        parse_limit("0")
    assert refused.value.details == [{"field": "limit", "message": "limit must be 1-500"}]
    assert parse_limit(None) == 100 and parse_limit("500") == 500


# --- through the API --------------------------------------------------------------------


def test_every_listing_walks_page_by_page(tenant: Tenant) -> None:
    # given three resources, three jobs and a job with three errors
    for name in ("a", "b", "c"):
        create(tenant.api, name=name)
    jobs = [make_job(tenant.client_model, [], start=False) for _ in range(2)]
    job = job_with_errors(tenant, 3)
    # when each listing is walked one row per page
    resources, _ = walk(tenant.api, "/v1/resources")
    listed_jobs, _ = walk(tenant.api, "/v1/jobs")
    errors, _ = walk(tenant.api, f"/v1/jobs/{job.id}/errors")
    # then every row comes once, in the listing's order
    assert [r["name"] for r in resources] == ["a", "b", "c"]
    assert [j["id"] for j in listed_jobs] == [job.id, jobs[1].id, jobs[0].id]
    assert [e["row"] for e in errors] == [1, 2, 3]


def decodings(cursor: str) -> list[bytes]:
    """The cursor's text base64-decoded at each of its four alignments."""
    texts = [cursor[skip:] for skip in range(4)]
    return [base64.urlsafe_b64decode(text[: len(text) - len(text) % 4]) for text in texts]


def test_a_cursor_shows_no_sequence_number(tenant: Tenant, other_tenant: Tenant) -> None:
    # given resources of two tenants, paged one at a time
    for name in ("a", "b", "c"):
        create(tenant.api, name=name)
    create(other_tenant.api, name="theirs")
    _, cursors = walk(tenant.api, "/v1/resources")
    seqs = sorted(Resource.objects.filter(tenant=tenant.client_model).values_list("seq", flat=True))
    # then no decoding of a cursor holds its seq as a number, nor the old "s:<seq>"
    for cursor, seq in zip(cursors, seqs, strict=False):
        for raw in decodings(cursor):
            for spelling in (f"s:{seq}".encode(), struct.pack(">q", seq), struct.pack("<q", seq)):
                assert spelling not in raw
    # and a long seq shows in neither the text nor its decodings, and is no longer
    big = 123456789012345
    cursor = resource_cursor(tenant=tenant.client_model, seq=big)
    assert str(big) not in cursor
    assert not any(str(big).encode() in raw for raw in decodings(cursor))
    assert len(cursor) == len(cursors[0])
    # and the same position of another tenant gives another cursor
    other = other_tenant.client_model
    assert resource_cursor(tenant=other, seq=seqs[0]) != cursors[0]


def _resources(tenant: Tenant, other: Tenant) -> tuple[str, str, str]:
    """The resource list, a cursor of it and the same cursor position for `other`."""
    for name in ("a", "b"):
        create(tenant.api, name=name)
        create(other.api, name=name)
    mine = tenant.api.get("/v1/resources", {"limit": "1"}).json()["meta"]["next_cursor"]
    theirs = other.api.get("/v1/resources", {"limit": "1"}).json()["meta"]["next_cursor"]
    return "/v1/resources", mine, theirs


def _jobs(tenant: Tenant, other: Tenant) -> tuple[str, str, str]:
    for owner in (tenant, tenant, other, other):
        make_job(owner.client_model, [], start=False)
    mine = tenant.api.get("/v1/jobs", {"limit": "1"}).json()["meta"]["next_cursor"]
    theirs = other.api.get("/v1/jobs", {"limit": "1"}).json()["meta"]["next_cursor"]
    return "/v1/jobs", mine, theirs


def _job_errors(tenant: Tenant, other: Tenant) -> tuple[str, str, str]:
    job = job_with_errors(tenant, 2)
    twin = job_with_errors(tenant, 2)  # the same tenant's other job
    path = f"/v1/jobs/{job.id}/errors"
    mine = tenant.api.get(path, {"limit": "1"}).json()["meta"]["next_cursor"]
    twin_path = f"/v1/jobs/{twin.id}/errors"
    theirs = tenant.api.get(twin_path, {"limit": "1"}).json()["meta"]["next_cursor"]
    return path, mine, theirs


LISTINGS: dict[str, Callable[[Tenant, Tenant], tuple[str, str, str]]] = {
    "resources": _resources,
    "jobs": _jobs,
    "job errors": _job_errors,
}


@pytest.mark.parametrize("listing", list(LISTINGS))
def test_cursors_not_issued_for_this_listing_are_400(
    tenant: Tenant, other_tenant: Tenant, listing: str
) -> None:
    # given a real cursor of the listing, and the cursor of the same position for
    # another tenant (for a job's errors: another job of the same tenant)
    path, cursor, theirs = LISTINGS[listing](tenant, other_tenant)
    assert tenant.api.get(path, {"cursor": cursor}).status_code == 200
    # The last character carries 4 bits of the cursor and 2 spare ones: flip a spare one.
    non_canonical = cursor[:-1] + BASE64URL[BASE64URL.index(cursor[-1]) ^ 1]
    bad = {
        "tampered": tampered(cursor),
        "truncated": cursor[:-1],
        "extended": cursor + "A",
        "overlong": cursor * 100,
        "not base64": "!" * len(cursor),
        "not ascii": "é" * len(cursor),
        "padded": cursor + "=",
        "non-canonical": non_canonical,
        "another owner's": theirs,
        "old format": base64.urlsafe_b64encode(b"s:1").decode().rstrip("="),
    }
    for name, forged in bad.items():
        # when the listing is read with a cursor it never issued
        # then it is the same 400 on `cursor`, whatever the forgery
        assert forged != cursor, name
        assert_invalid_cursor(tenant.api, path, forged)


def test_a_cursor_of_one_listing_is_400_on_every_other(tenant: Tenant) -> None:
    # given one cursor of each listing
    paths_and_cursors = dict(
        [_resources(tenant, tenant)[:2], _jobs(tenant, tenant)[:2], _job_errors(tenant, tenant)[:2]]
    )
    # when each is used on another listing
    for path in paths_and_cursors:
        for other_path, cursor in paths_and_cursors.items():
            if other_path != path:
                # then it is refused
                assert_invalid_cursor(tenant.api, path, cursor)
