"""Flower, started as the Procfile starts it (pcf.flower), shows every queue of the
broker with its length on its Broker tab, for Redis."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pcf.celery import app
from tests.live_server import _free_port
from tests.polling import wait_for
from tests.worker_fixtures import Workers, _purge_broker

ROOT = Path(__file__).resolve().parents[2]
LOGIN = ("ops", "flower-test-password")


@pytest.fixture
def flower(_celery_workers: Workers, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {**_celery_workers.env, "FLOWER_BASIC_AUTH": ":".join(LOGIN)}
    log = open(tmp_path / "flower.log", "w")  # noqa: SIM115 - closed below
    argv = [sys.executable, "-m", "pcf.flower", "--address=127.0.0.1", f"--port={port}"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, (tmp_path / "flower.log").read_text()
        try:
            return httpx.get(f"{base}/healthcheck", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up, timeout=60, interval=0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


@pytest.mark.django_db
def test_the_broker_tab_lists_every_queue_with_its_length(flower: str) -> None:
    # given three messages waiting on the webhooks queue, none on the others
    _purge_broker()
    try:
        for n in range(3):
            app.send_task("tests.ops.flower_probe", args=(n,), queue="webhooks")
        # when an operator opens the Broker tab (and its API)
        page = httpx.get(f"{flower}/broker", auth=LOGIN, timeout=30)
        lengths = httpx.get(f"{flower}/api/queues/length", auth=LOGIN, timeout=30)
    finally:
        _purge_broker()
    # then each queue has its row with its length
    assert page.status_code == 200
    rows = dict(re.findall(r'<tr id="(\w+)">\s*<td>\w+</td>\s*<td[^>]*>(\d+)</td>', page.text))
    assert rows == {"celery": "0", "chunks": "0", "webhooks": "3"}
    queues = {q["name"]: q["messages"] for q in lengths.json()["active_queues"]}
    assert queues == {"celery": 0, "chunks": 0, "webhooks": 3}
    # and without the login there is nothing to see
    assert httpx.get(f"{flower}/broker", timeout=30).status_code == 401
