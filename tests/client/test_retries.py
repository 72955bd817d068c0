"""Retries against servers that really answer 429 and 503."""

from __future__ import annotations

import socket
import threading

from pcf_client import PcfClient, RetryEvent
from pcf_client.batching import AdaptiveBatcher

from pcf.models import ApiClient
from resources.models import Resource
from tests.client.live import StartServer, start_server, token  # noqa: F401
from tests.polling import wait_for


def test_a_429_is_retried_after_retry_after(start_server: StartServer, token: str) -> None:
    # given a server that lets a tenant make 3 requests a second
    server = start_server(env={"PCF_RATE_LIMIT": "3/s"})
    retries: list[RetryEvent] = []
    with PcfClient(server.url, token, on_retry=retries.append) as client:
        # when the client creates 10 resources as fast as it can
        names = [client.create_resource(name=f"r{i}", type="other").name for i in range(10)]
    # then every call succeeded, each exactly once
    assert names == [f"r{i}" for i in range(10)]
    assert Resource.objects.count() == 10
    # and the client waited out the server's 429s, never less than Retry-After
    limited = [r for r in retries if r.status == 429]
    assert limited, retries
    assert all(r.retry_after is not None and r.delay >= r.retry_after for r in limited)


def test_batches_back_off_on_429_with_fewer_in_flight(
    start_server: StartServer, token: str
) -> None:
    # given a rate limit of 2 requests a second and a batcher sending 4 batches at once
    server = start_server(env={"PCF_RATE_LIMIT": "2/s"})
    batcher = AdaptiveBatcher(size=10, max_concurrency=4, concurrency=4, recover_after=1000)
    retries: list[RetryEvent] = []
    ops = [
        {"method": "POST", "path": "/resources", "body": {"name": f"b{i}", "type": "video"}}
        for i in range(80)
    ]
    # when 80 creates go through batch()
    with PcfClient(server.url, token, on_retry=retries.append) as client:
        report = client.batch(ops, batcher=batcher)
    # then all succeeded once, in input order, after some 429s that lowered concurrency
    assert [r.status for r in report.results] == [201] * 80
    assert [r.body["data"]["name"] for r in report.results] == [f"b{i}" for i in range(80)]
    assert Resource.objects.count() == 80
    assert any(r.status == 429 for r in retries)
    assert batcher.concurrency < 4


def test_a_503_from_an_overloaded_server_is_retried(start_server: StartServer) -> None:
    # given a server that answers 503 once it holds 2 connections (uvicorn's own
    # --limit-concurrency), and one connection held open by someone else
    server = start_server(uvicorn_args=["--limit-concurrency", "2"])
    _, secret = ApiClient.issue("overload")
    hog = socket.create_connection(("127.0.0.1", server.port))
    retries: list[RetryEvent] = []
    outcome: dict[str, object] = {}

    def create() -> None:
        with PcfClient(server.url, secret, on_retry=retries.append) as client:
            outcome["resource"] = client.create_resource(name="after-503", type="image")

    # when the client calls while the server is full
    caller = threading.Thread(target=create)
    caller.start()
    wait_for(lambda: any(r.status == 503 for r in retries), timeout=60)
    # and the other connection goes away
    hog.close()
    caller.join(60)
    # then the call went through on a retry, exactly once
    assert not caller.is_alive()
    assert getattr(outcome.get("resource"), "name", None) == "after-503"
    assert Resource.objects.filter(name="after-503").count() == 1
