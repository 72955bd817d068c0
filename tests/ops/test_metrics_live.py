"""Issue 13's "done means": while an import runs, `/metrics` scraped from a real web
server (gunicorn, two uvicorn workers) and fed by a real Celery worker (prefork, two
children), all sharing one PROMETHEUS_MULTIPROC_DIR, shows the backlog rise, fall to
zero, and the rows counter reach the job's total."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs.models import Job
from pcf import metrics_process
from tests.live_server import LiveServer, live_server
from tests.ops.metrics_scrape import Scrape, samples, value
from tests.polling import wait_for
from tests.worker_fixtures import Workers, _purge_broker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROWS = 3000
CHUNK_SIZE = 100  # 30 chunks
OPTIONS = {
    "mapping": {"name": "name", "type": "type", "status": "status"},
    "validation": "lenient",
    "chunk_size": CHUNK_SIZE,
}


def _csv(rows: int) -> bytes:
    lines = ["name,type,status"] + [f"Resource {i},document,active" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _scrape(server: LiveServer) -> Scrape:
    answer = httpx.get(f"{server.base}/metrics", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


def test_metrics_follow_an_import_across_web_and_worker_processes(
    tenant, tmp_path: Path, _celery_workers: Workers
) -> None:
    # given a web server and (later) a worker sharing one metrics directory
    shared = tmp_path / "metrics"
    env: dict[str, Any] = {"PROMETHEUS_MULTIPROC_DIR": str(shared)}
    _purge_broker()
    workers = Workers({**_celery_workers.env, **env}, tmp_path)
    try:
        with live_server(gunicorn_workers=2, **env) as server:
            before = _scrape(server)
            assert value(before, "pcf_chunks_ready", queue="chunks") == 0
            assert value(before, "pcf_oldest_ready_chunk_age_seconds") == 0
            # when a tenant uploads an import while no worker runs yet
            answer = httpx.post(
                f"{server.base}/v1/import/resources",
                headers={**tenant.auth_header, "X-Request-ID": "ops-test.import-1"},
                files={"file": ("r.csv", _csv(ROWS), "text/csv")},
                data={"options": json.dumps(OPTIONS)},
                timeout=120,
            )
            assert answer.status_code == 202, answer.text
            assert answer.headers["X-Request-ID"] == "ops-test.import-1"
            job_id = answer.json()["job_id"]
            # then the backlog rises: every chunk waits, the oldest for a while
            def backlog_aged() -> Scrape | None:
                samples = _scrape(server)
                return samples if value(samples, "pcf_oldest_ready_chunk_age_seconds") > 0 else None

            waiting = wait_for(backlog_aged, timeout=30)
            assert value(waiting, "pcf_chunks_ready", queue="chunks") == ROWS // CHUNK_SIZE
            assert value(waiting, "pcf_chunks_running", queue="chunks") == 0
            assert value(waiting, "pcf_jobs_total", type="csv_import", status="queued") == 1
            # when a worker starts on it (cleaning the files of this host's dead
            # processes first, as gunicorn did)
            gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True, check=True)  # fmt: skip
            stale = shared / f"counter_{metrics_process.identity(int(gone.stdout))}.db"
            stale.write_bytes(b"")
            workers.start()
            assert not stale.exists()
            backlog = [value(waiting, "pcf_chunks_ready", queue="chunks")]

            def drained() -> dict | None:
                scrape = _scrape(server)
                backlog.append(value(scrape, "pcf_chunks_ready", queue="chunks"))
                done = value(scrape, "pcf_jobs_total", type="csv_import", status="completed")
                return scrape if done == 1 else None

            after = wait_for(drained, timeout=120, interval=0.2)
            # then the backlog fell to zero, and the rows counted in the worker's
            # processes reach the job's total, read from the web server
            assert value(after, "pcf_chunks_ready", queue="chunks") == 0
            assert value(after, "pcf_chunks_running", queue="chunks") == 0
            assert value(after, "pcf_oldest_ready_chunk_age_seconds") == 0
            assert max(backlog) == ROWS // CHUNK_SIZE and backlog[-1] == 0
            assert value(after, "pcf_rows_total", outcome="successful") == ROWS
            assert value(after, "pcf_chunk_duration_seconds_count") == ROWS // CHUNK_SIZE
            route = {"route": "import-resources", "status": "202"}
            assert value(after, "pcf_http_requests_total", **route) == 1
            timed = value(after, "pcf_http_request_duration_seconds_count", route=route["route"])
            assert timed == 1
            # and the job remembers the request that made it
            job = Job.objects.get(pk=job_id)
            assert job.request_id == "ops-test.import-1" and job.total == ROWS
            job_answer = httpx.get(
                f"{server.base}/v1/jobs/{job_id}", headers=tenant.auth_header, timeout=30
            )
            assert job_answer.json()["request_id"] == "ops-test.import-1"
    finally:
        workers.stop_all()
    # the files are per host and process: the web's and the worker's children
    assert len(list(shared.glob("*.db"))) >= 2
