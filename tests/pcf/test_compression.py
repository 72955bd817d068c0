"""gzip request bodies (with a cap), other encodings, gzip responses, SSE untouched."""

from __future__ import annotations

import gzip
import io
import json
import time

import pytest
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory

from pcf.compression import ResponseGZipMiddleware, inflate_gzip
from pcf.exceptions import PayloadTooLarge
from resources.models import Resource

BATCH = {
    "operations": [
        {"method": "POST", "path": "/resources", "body": {"name": f"n{i}", "type": "image"}}
        for i in range(20)
    ]
}


def gzip_post(api, path, raw: bytes, **extra):
    return api.generic(
        "POST",
        path,
        raw,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        **extra,
    )


@pytest.mark.django_db
def test_gzip_request_and_response_as_in_the_cookbook(api):
    # when: the cookbook's compressed request with Accept-Encoding: gzip
    response = gzip_post(
        api,
        "/v1/batch",
        gzip.compress(json.dumps(BATCH).encode()),
        HTTP_ACCEPT_ENCODING="gzip",
    )
    # then: executed, and the answer is gzipped
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(response.content))
    assert body["meta"]["successful"] == 20
    assert Resource.objects.count() == 20


@pytest.mark.django_db
def test_no_accept_encoding_means_plain_response(api):
    response = api.post("/v1/batch", BATCH, format="json")
    assert not response.has_header("Content-Encoding")


@pytest.mark.django_db
def test_gzip_bomb_is_refused_quickly_with_413(api, settings):
    # given: ~10 MB of gzip that inflates to 10 GB (cap: the 100 MB default)
    assert settings.PCF_MAX_DECOMPRESSED_BYTES == 100 * 1024**2
    # (concatenated gzip members are one valid gzip stream, RFC 1952)
    bomb = gzip.compress(b"\0" * (100 * 1024**2), compresslevel=9) * 100
    assert len(bomb) < 11 * 1024 * 1024
    # when
    started = time.process_time()
    response = gzip_post(api, "/v1/batch", bomb)
    cpu_seconds = time.process_time() - started
    # then: refused after inflating about the cap (100 MB: ~0.5 s of CPU), not the
    # whole 10 GB (~50 s); CPU time, not wall time, so a busy machine does not count
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert cpu_seconds < 5


def test_inflate_stops_at_the_cap_with_bounded_work():
    # given: 1 GB of zeros compressed
    bomb = gzip.compress(b"\0" * (1024 * 1024)) * 1024
    source = io.BytesIO(bomb)
    # when/then: the cap (1 MB) is hit after a few steps, having read a small part
    with pytest.raises(PayloadTooLarge):
        inflate_gzip(source, limit=1024 * 1024)
    assert source.tell() < len(bomb) // 4


def test_inflate_handles_concatenated_members_and_exact_cap():
    data = gzip.compress(b"abc") + gzip.compress(b"def")
    out, size = inflate_gzip(io.BytesIO(data), limit=6)
    assert (out.read(), size) == (b"abcdef", 6)
    with pytest.raises(PayloadTooLarge):
        inflate_gzip(io.BytesIO(data), limit=5)


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [b"not gzip at all", gzip.compress(b'{"a": 1}')[:-6]])
def test_corrupt_or_truncated_gzip_is_400(api, raw):
    response = gzip_post(api, "/v1/batch", raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["br", "deflate", "compress", "gzip, br"])
def test_other_encodings_are_415(api, encoding):
    response = api.generic(
        "POST",
        "/v1/batch",
        json.dumps(BATCH),
        content_type="application/json",
        HTTP_CONTENT_ENCODING=encoding,
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert not Resource.objects.exists()


@pytest.mark.django_db
def test_identity_encoding_is_accepted(api):
    response = api.generic(
        "POST",
        "/v1/resources",
        json.dumps({"name": "a", "type": "image"}),
        content_type="application/json",
        HTTP_CONTENT_ENCODING="identity",
    )
    assert response.status_code == 201


@pytest.mark.django_db
def test_gzip_body_with_idempotency_key(api):
    raw = gzip.compress(json.dumps({"name": "a", "type": "image"}).encode())
    first = gzip_post(api, "/v1/resources", raw, HTTP_IDEMPOTENCY_KEY="gz")
    second = gzip_post(api, "/v1/resources", raw, HTTP_IDEMPOTENCY_KEY="gz")
    assert first.status_code == second.status_code == 201
    assert Resource.objects.count() == 1


def test_streaming_and_event_stream_responses_are_never_gzipped():
    # given: the response gzip middleware and a client that accepts gzip
    request = RequestFactory().get("/v1/jobs/x/progress", HTTP_ACCEPT_ENCODING="gzip")
    sse = StreamingHttpResponse(iter([b"event: progress\ndata: {}\n\n"] * 50))
    sse["Content-Type"] = "text/event-stream"
    plain_sse = HttpResponse(b"data: x\n\n" * 100, content_type="text/event-stream")
    ordinary = HttpResponse(b'{"a": 1}' * 100, content_type="application/json")
    middleware = ResponseGZipMiddleware(lambda r: ordinary)
    # when/then
    assert not middleware.process_response(request, sse).has_header("Content-Encoding")
    assert not middleware.process_response(request, plain_sse).has_header("Content-Encoding")
    assert middleware.process_response(request, ordinary)["Content-Encoding"] == "gzip"
