"""Hostile request bodies against a real web process: nothing is inflated or spooled
before the token is known, and no body passes its cap (pcf.bodyguard, pcf.compression)."""

from __future__ import annotations

import gzip
import json
import socket
import time
import zlib
from collections.abc import Iterable, Iterator

import httpx
import pytest

from pcf.models import ApiClient
from tests.live_server import LiveServer, live_server

pytestmark = [pytest.mark.django_db(transaction=True)]

RSS_LIMIT_MB = 200


@pytest.fixture(scope="module")
def server(django_db_setup: None) -> Iterator[LiveServer]:
    # One process for the module: starting one costs seconds on a loaded machine.
    with live_server(PCF_MAX_BODY_BYTES=str(4 * 1024**2)) as live:
        yield live


def gzip_bomb(inflated_bytes: int) -> bytes:
    """Zeros deflated at level 9: about 1,000 to 1 (2 MB of it inflates to ~2 GB)."""
    one_mib = gzip.compress(b"\0" * 1024**2, compresslevel=9)
    return one_mib * (inflated_bytes // 1024**2)


def cost(server: LiveServer) -> tuple[float, int]:
    """CPU seconds and bytes written by the web process so far."""
    times = server.process.cpu_times()
    return times.user + times.system, server.process.io_counters().write_chars


def raw_exchange(server: LiveServer, head: str, body: Iterable[bytes] = ()) -> bytes:
    """Send `head` and as much of `body` as the server takes; return what it answers."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1"))
        try:
            for piece in body:
                sock.sendall(piece)
        except OSError:
            pass  # the server answered and closed: read the answer below
        answer = b""
        while b"\r\n\r\n" not in answer and (data := sock.recv(65536)):
            answer += data
        head_part, _, body_part = answer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head_part.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body_part) < length and (data := sock.recv(65536)):
            body_part += data
        return head_part + b"\r\n\r\n" + body_part


def test_a_gzip_bomb_without_a_token_is_401_with_nothing_inflated(server: LiveServer) -> None:
    # given about 2 MB of gzip that inflates to 2 GiB (the import cap) and no token
    bomb = gzip_bomb(2 * 1024**3)
    assert len(bomb) < 3 * 1024**2
    cpu_before, written_before = cost(server)
    # when it is posted to the import endpoint
    started = time.monotonic()
    response = httpx.post(
        f"{server.base}/v1/import/resources",
        content=bomb,
        headers={"Content-Encoding": "gzip", "Content-Type": "text/csv"},
        timeout=120,
    )
    elapsed = time.monotonic() - started
    # then it is a 401 in the contract's shape, at once
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert elapsed < 30
    # and the web process neither inflated nor spooled it (inflating is ~2 s of CPU and
    # 2 GiB written; reading past 2 MB is a few milliseconds)
    cpu_after, written_after = cost(server)
    assert cpu_after - cpu_before < 1.0
    assert written_after - written_before < 1024**2
    assert server.rss_mb() < RSS_LIMIT_MB
    # and the connection still serves the next request
    assert httpx.get(f"{server.base}/healthz", timeout=30).status_code == 200


@pytest.mark.parametrize("path", ["/v1/import/resources", "/v1/batch", "/admin/login/"])
def test_a_declared_length_over_the_cap_is_413_before_any_byte(
    server: LiveServer, path: str
) -> None:
    # given a client that announces 3 GB and sends none of it
    _, token = ApiClient.issue("big")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 3000000000\r\n\r\n"
    )
    # when the headers arrive
    answer = raw_exchange(server, head)
    # then the answer is a 413 in the contract's shape, without waiting for the body
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 413 " in status_line
    assert b"connection: close" in rest.lower()
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_is_cut_at_the_cap(server: LiveServer) -> None:
    # given a tenant that streams a chunked body with no end (cap: 4 MiB in this server)
    _, token = ApiClient.issue("streamer")
    head = (
        f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"x" * 65536
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    _, written_before = cost(server)
    # when it sends up to 64 MiB
    answer = raw_exchange(server, head, [frame] * 1024)
    # then it is a 413, and the process spooled no more than the cap
    assert b" 413 " in answer.partition(b"\r\n")[0]
    _, written_after = cost(server)
    assert written_after - written_before < 6 * 1024**2


def test_a_gzip_body_with_a_token_still_works_on_a_real_server(server: LiveServer) -> None:
    # given a tenant and the cookbook's compressed batch
    _, token = ApiClient.issue("gzip")
    batch = {"operations": [{"method": "POST", "path": "/resources",
                             "body": {"name": "n", "type": "image"}}]}  # fmt: skip
    # when it is posted gzip-encoded
    response = httpx.post(
        f"{server.base}/v1/batch",
        content=gzip.compress(json.dumps(batch).encode()),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    # then it runs
    assert response.status_code == 200
    assert response.json()["meta"]["successful"] == 1


def test_the_guard_lets_the_admin_login_post_through(server: LiveServer) -> None:
    # given the admin login form (no bearer token; the guard only caps its body)
    with httpx.Client(base_url=server.base, timeout=30) as client:
        page = client.get("/admin/login/")
        csrf = page.cookies["csrftoken"]
        # when it is posted with wrong credentials
        response = client.post(
            "/admin/login/",
            data={"username": "nobody", "password": "wrong", "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{server.base}/admin/login/"},
        )
    # then Django's own form answers (not a 401 from the guard)
    assert response.status_code == 200
    assert "Please enter the correct username" in response.text


def test_unauthenticated_gzip_is_401_in_process(anon) -> None:
    # given a gzip body of 1 GiB of zeros when inflated, and no token (test client)
    bomb = zlib.compress(b"\0" * 1024**2, 9)  # deflate, not gzip: never inspected either
    # when posted with any encoding
    for encoding in ("gzip", "br"):
        started = time.monotonic()
        response = anon.generic(
            "POST", "/v1/batch", bomb * 64, content_type="application/json",
            HTTP_CONTENT_ENCODING=encoding,
        )  # fmt: skip
        # then 401 at once
        assert response.status_code == 401, encoding
        assert time.monotonic() - started < 5
