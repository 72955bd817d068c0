"""Deploy files wire the metrics: web and workers share one PROMETHEUS_MULTIPROC_DIR,
and gunicorn runs with the hooks that keep it clean (pcf.gunicorn)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_web_and_workers_share_one_metrics_volume() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("web", "worker", "webhooks"):
        directory = services[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert f"metrics:{directory}" in services[name]["volumes"], name
    assert "metrics" in compose["volumes"]
    assert "python:pcf.gunicorn" in services["web"]["command"]


def test_procfile_and_dockerfile_run_gunicorn_with_the_metrics_hooks() -> None:
    procfile = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert "-c python:pcf.gunicorn" in procfile["web"]
    assert '"python:pcf.gunicorn"' in (ROOT / "Dockerfile").read_text()
    assert "export PROMETHEUS_MULTIPROC_DIR ?=" in (ROOT / "Makefile").read_text()
