"""`/metrics`: who may scrape it, bounded route labels, and the metrics directory's
housekeeping (pcf.metrics_http, pcf.metrics_process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from pcf import metrics_process
from tests.ops.metrics_scrape import metric_names, samples, value

pytestmark = [pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]


def test_without_a_token_only_loopback_clients_may_scrape() -> None:
    # a client on the same host reads the metrics
    local = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert local.status_code == 200
    assert local["Content-Type"].startswith("text/plain; version=")
    assert "pcf_chunks_ready" in metric_names(local.content.decode())
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    # any other address gets the contract's 401
    remote = Client(REMOTE_ADDR="203.0.113.9").get("/metrics")
    assert remote.status_code == 401
    assert remote.json()["error"]["code"] == "UNAUTHENTICATED"


@override_settings(PCF_METRICS_TOKEN="scrape-secret-1")
def test_with_a_token_only_its_bearer_may_scrape() -> None:
    remote = Client(REMOTE_ADDR="203.0.113.9")
    local = Client(REMOTE_ADDR="127.0.0.1")
    # the right token works from anywhere
    assert remote.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-1").status_code == 200
    # none, a wrong one, or another scheme: 401, from loopback too
    refused: list[dict[str, Any]] = [
        {}, {"HTTP_AUTHORIZATION": "Bearer scrape-secret-2"},
        {"HTTP_AUTHORIZATION": "Basic scrape-secret-1"},
    ]  # fmt: skip
    for header in refused:
        assert local.get("/metrics", **header).status_code == 401


def test_requests_are_counted_by_route_template_never_by_path(tenant) -> None:
    def scrape() -> dict:
        return samples(Client().get("/metrics").content.decode())

    before = scrape()
    # when requests hit a pattern with ids in it, and paths no pattern matches
    for n in range(3):
        tenant.api.get(f"/v1/jobs/job_missing{n}")
        Client().get(f"/nothing/here/{n}")
    after = scrape()
    # then each is counted under its pattern's name or "unmatched", never its path
    job_route = {"route": "job-detail", "status": "404"}
    grew = value(after, "pcf_http_requests_total", **job_route) - value(
        before, "pcf_http_requests_total", **job_route
    )
    assert grew == 3
    unmatched = {"route": "unmatched", "status": "404"}
    assert (
        value(after, "pcf_http_requests_total", **unmatched)
        - value(before, "pcf_http_requests_total", **unmatched)
        == 3
    )
    routes = {dict(labels).get("route", "") for (_, labels) in after}
    assert not any("job_missing" in r or "nothing/here" in r for r in routes)


def test_only_dead_processes_files_are_cleaned(tmp_path: Path) -> None:
    # given files of this process, of a process that exited, and of another host
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    mine = tmp_path / f"counter_{metrics_process.identity()}.db"
    dead = tmp_path / f"histogram_{metrics_process.identity(int(gone.stdout))}.db"
    other = tmp_path / "counter_otherhost-1.db"
    for path in (mine, dead, other):
        path.write_bytes(b"")
    # when a server starts and cleans the directory
    removed = metrics_process.clean_dead(tmp_path)
    # then only the dead process's file went
    assert removed == 1
    assert mine.exists() and other.exists() and not dead.exists()


def test_processes_sharing_a_directory_report_together(tmp_path: Path) -> None:
    # given two processes that counted rows into one directory
    count = (
        "import django; django.setup(); from pcf import metrics; "
        "metrics.ROWS.labels(outcome='successful').inc(5)"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "shared")}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], cwd=ROOT, env=env, check=True, timeout=120)
    # when a third reads them as /metrics does
    read = (
        "import django; django.setup(); from pcf import metrics; "
        "from prometheus_client import generate_latest; "
        "print(generate_latest(metrics.scrape_registry()).decode())"
    )
    out = subprocess.run([sys.executable, "-c", read], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    # then it sees both processes' rows
    assert value(samples(out.stdout), "pcf_rows_total", outcome="successful") == 10
