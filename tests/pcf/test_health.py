"""/healthz checks PostgreSQL, Redis and the Celery broker for real."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from pcf.celery import app as celery_app
from pcf.redis import redis_client

pytestmark = pytest.mark.django_db

DEAD = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def fresh_redis_client() -> Iterator[None]:
    """redis_client() is cached; start and end with a client built from current settings."""
    redis_client.cache_clear()
    yield
    redis_client.cache_clear()


def test_healthy_when_all_three_answer(client: Client) -> None:
    # given the real PostgreSQL, Redis and broker / when probed without a token
    response = client.get("/healthz")
    # then 200 with each check ok
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"postgres": "ok", "redis": "ok", "broker": "ok"},
    }


def test_503_when_redis_is_unreachable(
    client: Client, settings: SettingsWrapper, fresh_redis_client: None
) -> None:
    # given Redis pointing at a port where nothing listens
    settings.REDIS_URL = DEAD
    # when probed
    response = client.get("/healthz")
    # then 503, Redis named as failing, the others still checked, no trace in the body
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["redis"].startswith("error")
    assert body["checks"]["postgres"] == "ok" and body["checks"]["broker"] == "ok"
    assert "Traceback" not in response.content.decode()


def test_503_when_the_broker_is_unreachable(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the Celery broker pointing at a port where nothing listens
    monkeypatch.setitem(celery_app.conf, "broker_url", DEAD)
    monkeypatch.setitem(celery_app.conf, "broker_write_url", None)
    # when probed
    response = client.get("/healthz")
    # then 503 with the broker named
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"].startswith("error") and checks["redis"] == "ok"
