"""No Docker engine runs here, so the compose file and Procfile are checked by parsing."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_every_service_the_stack_needs() -> None:
    # given the compose file
    services = _compose()["services"]
    # then it runs the whole stack
    assert {"postgres", "redis", "web", "worker", "webhooks", "beat", "flower"} <= set(services)


def test_compose_worker_scales_and_consumes_the_chunk_queue() -> None:
    # given the worker service
    worker = _compose()["services"]["worker"]
    # then nothing pins it to one container, and it reads the chunk queue
    assert "container_name" not in worker
    assert "ports" not in worker
    command = worker["command"]
    assert command[:4] == ["celery", "-A", "pcf", "worker"]
    assert "chunks" in command[command.index("-Q") + 1].split(",")


def test_compose_app_services_use_postgres_and_redis_urls() -> None:
    services = _compose()["services"]
    for name in ("web", "worker", "webhooks", "beat", "flower"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")


def test_procfile_declares_web_worker_beat_flower_and_release() -> None:
    # given the Procfile
    lines = (ROOT / "Procfile").read_text().splitlines()
    entries = dict(line.split(":", 1) for line in lines if line.strip())
    # then every process type is there, and the web server is ASGI
    assert {"release", "web", "worker", "webhooks", "beat", "flower"} <= set(entries)
    assert "uvicorn_worker.UvicornWorker" in entries["web"]
    assert "pcf.asgi:application" in entries["web"]
    worker = shlex.split(entries["worker"])
    assert "chunks" in worker[worker.index("-Q") + 1].split(",")
    assert "pcf.flower" in entries["flower"]  # refuses to start without user:password


LONG_RUNNING = ("web", "worker", "webhooks", "beat", "flower")


def test_every_long_running_service_comes_back_by_itself() -> None:
    # compose: a restart policy on each long-running service, none on the one-off migrate
    services = _compose()["services"]
    for name in ("postgres", "redis", *LONG_RUNNING):
        assert services[name].get("restart") in ("unless-stopped", "always"), name
    assert services["migrate"].get("restart") == "no"
    # Procfile: `make run` respawns each long-running process (PCF_RESPAWN)
    lines = (ROOT / "Procfile").read_text().splitlines()
    entries = dict(line.split(":", 1) for line in lines if line.strip())
    for name in LONG_RUNNING:
        assert "${PCF_RESPAWN:-}" in entries[name], name
    assert "PCF_RESPAWN := $(abspath $(PY)) -m pcf.respawn --" in (ROOT / "Makefile").read_text()


def test_beat_needs_no_database() -> None:
    # Celery's own scheduler keeps its (static) schedule in a file: beat rides out a
    # PostgreSQL outage (django-celery-beat's DatabaseScheduler exits with it).
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULER == "celery.beat:PersistentScheduler"
    assert "django_celery_beat" not in settings.INSTALLED_APPS
    assert {"jobs-sweep", "jobs-purge"} <= set(settings.CELERY_BEAT_SCHEDULE)
