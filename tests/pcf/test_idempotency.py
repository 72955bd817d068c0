"""Idempotency-Key on the contract's POSTs: replay, reuse, tenancy, concurrency."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from pcf.idempotency import body_digest, hash_replacing
from pcf.models import IdempotencyRecord
from resources.models import Resource


def post(api, path, body, key, **extra):
    return api.generic(
        "POST",
        path,
        json.dumps(body) if not isinstance(body, str) else body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
        **extra,
    )


CREATE = {"name": "once", "type": "document"}
BATCH = {"operations": [{"method": "POST", "path": "/resources", "body": CREATE}]}


@pytest.mark.django_db
@pytest.mark.parametrize("path,body", [("/v1/resources", CREATE), ("/v1/batch", BATCH)])
def test_same_key_same_request_replays_the_first_answer(api, path, body):
    # when: the same request twice under one key
    first = post(api, path, body, "key-1")
    second = post(api, path, body, "key-1")
    # then: one execution, the same status and body, marked as replayed
    assert first.status_code in (200, 201)
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert second["Idempotent-Replayed"] == "true"
    assert Resource.objects.count() == 1


@pytest.mark.django_db
def test_json_is_compared_as_parsed_json(api):
    # given: the same JSON with other key order and spacing
    post(api, "/v1/resources", '{"name": "once", "type": "document"}', "k")
    # when
    again = post(api, "/v1/resources", '{ "type":"document",\n "name":"once" }', "k")
    # then
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert Resource.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/resources", {"name": "other", "type": "document"}),
        ("/v1/batch", BATCH),
    ],
)
def test_same_key_another_request_is_422(api, path, body):
    # given
    post(api, "/v1/resources", CREATE, "k")
    # when: another body, or another path
    response = post(api, path, body, "k")
    # then
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert Resource.objects.count() == 1


@pytest.mark.django_db
def test_reuse_is_checked_before_anything_else(api):
    # given: a key used by a valid request
    post(api, "/v1/batch", BATCH, "k")
    # when: an invalid batch (would be 400) under the same key
    response = post(api, "/v1/batch", {"operations": []}, "k")
    # then: 422 first
    assert response.status_code == 422


@pytest.mark.django_db
def test_validation_errors_are_replayed_too(api):
    first = post(api, "/v1/resources", {"name": ""}, "bad")
    second = post(api, "/v1/resources", {"name": ""}, "bad")
    assert first.status_code == second.status_code == 400
    assert second["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_keys_belong_to_the_tenant(api, other_tenant):
    # when: two tenants use the same key with different bodies
    mine = post(api, "/v1/resources", CREATE, "shared")
    theirs = post(other_tenant.api, "/v1/resources", {"name": "t", "type": "image"}, "shared")
    # then: both ran
    assert mine.status_code == theirs.status_code == 201
    assert Resource.objects.count() == 2


@pytest.mark.django_db
def test_expired_key_runs_again(api):
    # given: a record older than 24 h
    post(api, "/v1/resources", CREATE, "old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    # when
    response = post(api, "/v1/resources", {"name": "new", "type": "image"}, "old")
    # then: a fresh execution, no 422
    assert response.status_code == 201
    assert Resource.objects.count() == 2


@pytest.mark.django_db
def test_without_a_key_nothing_is_stored(api):
    api.post("/v1/resources", CREATE, format="json")
    api.post("/v1/resources", CREATE, format="json")
    assert Resource.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_get_ignores_the_header(api):
    response = api.get("/v1/resources", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 200
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_overlong_key_is_400(api):
    response = post(api, "/v1/resources", CREATE, "k" * 256)
    assert response.status_code == 400


@pytest.mark.django_db
def test_bad_token_with_a_key_is_still_401(anon):
    response = post(anon, "/v1/resources", CREATE, "k", HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_execute_once(tenant):
    # given: a batch slow enough to overlap (a few hundred creates)
    body = {
        "operations": [
            {"method": "POST", "path": "/resources", "body": {"name": f"n{i}", "type": "image"}}
            for i in range(300)
        ]
        + [{"method": "GET", "path": "/resources?limit=500"} for _ in range(100)]
    }
    barrier = threading.Barrier(2)
    answers: list = []

    def send() -> None:
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.token}")
        try:
            barrier.wait()
            answers.append(post(client, "/v1/batch", body, "race"))
        finally:
            connection.close()

    # when: both start together
    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then: one execution; both got the same answer
    assert Resource.objects.count() == 300
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].content == answers[1].content
    assert sum(a.has_header("Idempotent-Replayed") for a in answers) == 1


def test_hash_replacing_neutralises_the_token_across_chunk_edges():
    # given: the same content with two boundaries, cut at every possible place
    token_a, token_b = b"--aaaaBOUNDARY", b"--zz"
    body = b"%s\r\npart one\r\n%s\r\npart two\r\n%s--" % ((token_a,) * 3)
    other = body.replace(token_a, token_b)
    expected = hash_replacing(iter([other]), token_b)
    # when/then: every split gives the same digest
    for cut in range(len(body)):
        assert hash_replacing(iter([body[:cut], body[cut:]]), token_a) == expected
    # and different content differs
    assert hash_replacing(iter([body.replace(b"one", b"two")]), token_a) != expected


def _multipart(boundary: str, csv: bytes) -> bytes:
    return (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="r.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + csv
        + f"\r\n--{boundary}--\r\n".encode()
    )


@pytest.mark.django_db
def test_multipart_is_compared_by_content_not_boundary():
    # given: the same upload with two boundaries, and one with another file
    factory = RequestFactory()

    def digest(boundary: str, csv: bytes) -> str:
        request = factory.generic(
            "POST",
            "/v1/import/resources",
            _multipart(boundary, csv),
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        value = body_digest(request)
        # the body is still readable afterwards, unchanged
        assert request.read() == _multipart(boundary, csv)
        return value

    csv = b"name,type\nA,document\n"
    # then
    assert digest("xyz123", csv) == digest("other-boundary-77", csv)
    assert digest("xyz123", csv) != digest("xyz123", b"name,type\nB,document\n")


def test_canonical_json_digest():
    factory = RequestFactory()
    a = factory.post("/v1/batch", '{"a":1,"b":[1,2]}', content_type="application/json")
    b = factory.post("/v1/batch", '{"b": [1, 2], "a": 1}', content_type="application/json")
    assert body_digest(a) == body_digest(b)
    assert body_digest(a) != hashlib.sha256(b"x").hexdigest()
