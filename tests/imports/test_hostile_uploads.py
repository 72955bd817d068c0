"""CSV uploads built to cost the web tier memory and CPU, against a real uvicorn process:
each is refused at the record cap, with web RSS under 200 MB (issue 11, item 2)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import httpx
import pytest

from pcf.models import ApiClient
from resources.models import Resource
from tests.live_server import LiveServer, live_server

pytestmark = [pytest.mark.django_db(transaction=True)]

RSS_LIMIT_MB = 200
OPTIONS = json.dumps({"mapping": {"name": "name", "type": "type"}, "validation": "lenient"})


@pytest.fixture(scope="module")
def server(django_db_setup: None) -> Iterator[LiveServer]:
    with live_server() as live:
        yield live


def gzip_of(head: bytes, filler: bytes, total: int) -> bytes:
    """`head` then `filler` repeated up to `total` bytes, as concatenated gzip members
    (one valid gzip stream, RFC 1952): 2 MB of gzip here is ~1.9 GB of text."""
    block = gzip.compress(filler * (1024**2 // len(filler)), compresslevel=9)
    return gzip.compress(head) + block * (total // 1024**2)


def cost(server: LiveServer) -> tuple[float, int]:
    times = server.process.cpu_times()
    return times.user + times.system, server.process.io_counters().write_chars


def post_csv(server: LiveServer, token: str, body: bytes, *, request_gzip: bool) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if request_gzip:
        # A raw text/csv body, compressed as a whole request.
        headers |= {"Content-Type": "text/csv", "Content-Encoding": "gzip"}
        return httpx.post(
            f"{server.base}/v1/import/resources",
            params={"options": OPTIONS},
            content=body,
            headers=headers,
            timeout=60,
        )
    # A gzip file part in the cookbook's multipart form.
    return httpx.post(
        f"{server.base}/v1/import/resources",
        files={"file": ("resources.csv.gz", body, "application/gzip")},
        data={"options": OPTIONS},
        headers=headers,
        timeout=60,
    )


@pytest.mark.parametrize("request_gzip", [True, False])
@pytest.mark.parametrize(
    ("head", "filler", "line"),
    [
        (b"name,type\n", b"a", 2),  # one line of ~1.9 GB, no line end
        (b'name,type\nok,image\n"open,image\n', b"x,image\n", 3),  # a quote never closed
    ],
)
def test_a_2_mb_gzip_upload_is_refused_at_the_record_cap(
    server: LiveServer, request_gzip: bool, head: bytes, filler: bytes, line: int
) -> None:
    # given about 2 MB of gzip that inflates to ~1.9 GB of CSV
    body = gzip_of(head, filler, 1900 * 1024**2)
    assert len(body) < 3 * 1024**2
    _, token = ApiClient.issue("hostile")
    cpu_before, written_before = cost(server)
    # when it is uploaded
    response = post_csv(server, token, body, request_gzip=request_gzip)
    # then a 400 naming the line, after inflating about the cap's worth, not 1.9 GB
    assert response.status_code == 400, response.text
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == "file" and f"line {line} " in detail["message"]
    cpu_after, written_after = cost(server)
    assert cpu_after - cpu_before < 3
    assert written_after - written_before < 16 * 1024**2
    assert server.rss_mb() < RSS_LIMIT_MB
    assert not Resource.objects.exists()


def test_a_50_mb_line_is_refused_with_flat_memory(server: LiveServer) -> None:
    # given a plain (not compressed) file with one 50 MB line
    _, token = ApiClient.issue("long-line")
    body = b"name,type\nfirst,image\n" + b"x" * (50 * 1024**2) + b",image\n"
    # when it is uploaded
    response = post_csv(server, token, gzip.compress(body, 1), request_gzip=False)
    # then a 400 naming line 3, and the web process stayed small
    assert response.status_code == 400, response.text
    assert "line 3 " in response.json()["error"]["details"][0]["message"]
    assert server.rss_mb() < RSS_LIMIT_MB
