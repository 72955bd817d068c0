"""Structured logs (PCF_LOG_FORMAT=json): every line of a request carries its request
id, every line of a chunk task its job id, chunk seq, tenant and attempt."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pcf.logcontext import ContextFilter, json_formatter, request_id_from
from tests.jobs.helpers import make_job
from tests.live_server import live_server
from tests.waiting import wait_finished
from tests.worker_fixtures import Workers, _purge_broker


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger writes, through the JSON formatter and context filter that
    PCF_LOG_FORMAT=json configures."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(ContextFilter())
    logging.getLogger().addHandler(handler)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def _parsed(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.django_db
def test_a_request_id_is_kept_or_made_and_sent_back(tenant) -> None:
    # a plain id from the caller is kept
    kept = tenant.api.get("/v1/jobs", HTTP_X_REQUEST_ID="lb-7f3a.42:1")
    assert kept["X-Request-ID"] == "lb-7f3a.42:1"
    # none, too long, or with unsafe characters: a new one is made
    for header in ({}, {"HTTP_X_REQUEST_ID": "x" * 129}, {"HTTP_X_REQUEST_ID": "a b\nc"}):
        made = tenant.api.get("/v1/jobs", **header)
        assert len(made["X-Request-ID"]) == 32 and made["X-Request-ID"].isalnum()
    assert request_id_from("ok-1") == "ok-1"


@pytest.mark.django_db(transaction=True)
def test_every_log_line_of_a_request_carries_its_id(tmp_path: Path) -> None:
    # given a real server writing JSON logs
    log = tmp_path / "web.log"
    with live_server(log=log, PCF_LOG_FORMAT="json") as server:
        # when a request is answered 404 (Django logs it after its middleware ran)
        missing = httpx.get(
            f"{server.base}/no/such/endpoint", headers={"X-Request-ID": "trace-404"}
        )
        # and a body is refused before Django sees it (no token)
        refused = httpx.post(f"{server.base}/v1/resources", json={"name": "x"})
    # then both answers carry their id, and the request's line is JSON naming it
    assert missing.status_code == 404 and missing.headers["X-Request-ID"] == "trace-404"
    assert refused.status_code == 401 and len(refused.headers["X-Request-ID"]) == 32
    lines = [json.loads(text) for text in log.read_text().splitlines() if text.startswith("{")]
    about = [line for line in lines if "/no/such/endpoint" in line["message"]]
    assert about and all(line["request_id"] == "trace-404" for line in about)
    assert {"time", "level", "logger", "message"} <= set(about[0])


@pytest.mark.django_db
def test_a_submitted_job_keeps_the_request_id(tenant, json_lines: io.StringIO) -> None:
    # when a tenant submits a bulk import with a request id
    answer = tenant.api.post(
        "/v1/bulk/resources",
        {"resources": [{"name": "a", "type": "document"}]},
        format="json",
        HTTP_X_REQUEST_ID="submit-1",
    )
    assert answer.status_code in (200, 201, 202), answer.content
    # then the job's row and representation keep it, and the job's creation line says
    # which job the request made
    from jobs.models import Job  # after the request: the job exists now

    job = Job.objects.get(request_id="submit-1")
    assert tenant.api.get(f"/v1/jobs/{job.id}").json()["request_id"] == "submit-1"
    created = [line for line in _parsed(json_lines) if job.id in line["message"]]
    assert created and all(line["request_id"] == "submit-1" for line in created)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_workers_chunk_lines_name_job_chunk_tenant_and_attempt(
    tenant, tmp_path: Path, _celery_workers: Workers
) -> None:
    # given a worker writing JSON logs
    _purge_broker()
    workers = Workers({**_celery_workers.env, "PCF_LOG_FORMAT": "json"}, tmp_path)
    try:
        worker = workers.start()
        # when it runs a job whose handler raises (retried, then the chunk fails)
        job = wait_finished(
            make_job(tenant.client_model, [{"rows": 2}], handler="test.broken"), timeout=60
        )
        assert job.status == "failed"
    finally:
        workers.stop_all()
    # then its lines about the chunk are JSON naming the job, chunk, tenant and attempt
    lines = []
    for text in worker.output().splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    about = [line for line in lines if line.get("job_id") == job.id]
    assert any("failed; reference" in line["message"] for line in about), lines[-5:]
    for line in about:
        assert line["chunk_seq"] == 0 and line["tenant"] == tenant.client_model.pk
        assert line["attempt"] == 1


@pytest.mark.django_db
def test_the_admin_job_page_shows_the_request_id(admin_client, tenant) -> None:
    # given a job submitted by a request with an id
    answer = tenant.api.post(
        "/v1/bulk/resources",
        {"resources": [{"name": "b", "type": "document"}]},
        format="json",
        HTTP_X_REQUEST_ID="admin-trace-7",
    )
    assert answer.status_code == 202, answer.content
    # when an operator opens the job in the admin, then the request id is on it
    page = admin_client.get(f"/admin/jobs/job/{answer.json()['job_id']}/change/")
    assert page.status_code == 200 and b"admin-trace-7" in page.content
