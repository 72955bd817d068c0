"""Async batches end to end: real Celery worker processes, GET /v1/jobs/{id}/results,
and the cookbook's webhook example delivered to a local receiver."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from resources.models import Resource
from tests.batch.helpers import create, post_batch
from tests.polling import wait_for
from tests.waiting import wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records what it gets."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(
                    {"headers": dict(self.headers), "body": json.loads(self.rfile.read(length))}
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/batch-complete"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, timeout: float = 60) -> dict[str, Any]:
        wait_for(lambda: self.received, timeout)
        return self.received[0]


@pytest.fixture
def receiver(settings):
    settings.PCF_WEBHOOK_ALLOW_PRIVATE = True  # the option is checked in this process
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


def test_async_batch_results_come_from_the_job(api, celery_worker, make_resource):
    # given
    make_resource("existing_123")
    ops = [
        create("Resource 1"),
        {"method": "PATCH", "path": "/resources/existing_123", "body": {"status": "archived"}},
        {"method": "GET", "path": "/resources/{op1.body.data.id}"},
        {"method": "DELETE", "path": "/resources/missing"},
    ]
    # when: posted async and run by a worker
    accepted = post_batch(api, ops, **{"async": True})
    assert accepted.status_code == 202
    job = wait_for_job(api, accepted.json()["job_id"])
    # then: the job completed and /results has the synchronous answer's shape
    assert job["status"] == "completed"
    assert job["type"] == "batch"
    results = api.get(f"/v1/jobs/{job['id']}/results").json()
    assert [r["status"] for r in results["results"]] == [200 + 1, 200, 200, 404]
    assert results["results"][3]["originalOperation"] == ops[3]
    assert results["meta"]["total_operations"] == 4
    assert (results["meta"]["successful"], results["meta"]["failed"]) == (3, 1)
    assert Resource.objects.get(public_id="existing_123").status == "archived"


def test_webhook_example_is_delivered_on_completion(api, celery_worker, receiver):
    # when: the cookbook's startBatchWithWebhook body
    response = api.post(
        "/v1/batch",
        {
            "operations": [create(f"n{i}") for i in range(5)],
            "options": {
                "webhook": {
                    "url": receiver.url,
                    "events": ["completed", "failed"],
                    "headers": {"X-Webhook-Secret": "secret_key"},
                }
            },
        },
        format="json",
    )
    # then: 202, and the receiver gets the cookbook's payload with the caller's header
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    delivery = receiver.wait()
    body = delivery["body"]
    assert body["event"] == "batch.completed"
    assert body["job_id"] == job_id
    assert body["summary"]["total_operations"] == 5
    assert (body["summary"]["successful"], body["summary"]["failed"]) == (5, 0)
    assert body["timestamp"].endswith("Z")
    assert delivery["headers"]["X-Webhook-Secret"] == "secret_key"
    assert delivery["headers"]["X-PCF-Signature"].startswith("t=")
    assert Resource.objects.count() == 5


def test_atomic_async_batch_rolled_back_fails_the_job(api, celery_worker, receiver):
    # when: an atomic async batch that fails in the middle, with a webhook
    response = post_batch(
        api,
        [create("a"), {"method": "GET", "path": "/resources/nope"}, create("b")],
        atomic=True,
        webhook={"url": receiver.url, "events": ["failed"]},
    )
    job = wait_for_job(api, response.json()["job_id"])
    # then: failed job, nothing written, results explain, a `batch.failed` webhook
    assert job["status"] == "failed"
    assert not Resource.objects.exists()
    results = api.get(f"/v1/jobs/{job['id']}/results").json()
    codes = [r["error"]["code"] for r in results["results"]]
    assert codes == ["ROLLED_BACK", "NOT_FOUND", "SKIPPED"]
    assert receiver.wait()["body"]["event"] == "batch.failed"
