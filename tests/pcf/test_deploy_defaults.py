"""Safe deployment defaults (issue 11, item 10): no public SECRET_KEY fallback, HTTPS
settings from the environment, a throttled admin login, Flower only behind a password
on the host's loopback."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from django.contrib.auth.models import User
from django.test import Client

from pcf.flower import basic_auth_problem
from tests.live_server import LiveServer, live_server

ROOT = Path(__file__).resolve().parents[2]
SHOW_KEY = (
    "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
)


def _settings_process(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    return subprocess.run(
        [sys.executable, "-c", SHOW_KEY],
        cwd=ROOT,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "pcf.settings",
            "PCF_DATA_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_no_secret_key_with_debug_off_refuses_to_start(tmp_path: Path) -> None:
    # when the settings load with DEBUG off and no SECRET_KEY
    started = _settings_process(tmp_path, DEBUG="false")
    # then nothing starts (no public fallback key), and the message says what to do
    assert started.returncode != 0
    assert "SECRET_KEY must be set" in started.stderr


def test_debug_without_a_key_makes_a_private_one_once(tmp_path: Path) -> None:
    # when a local (DEBUG) run starts twice without SECRET_KEY
    first = _settings_process(tmp_path, DEBUG="true")
    second = _settings_process(tmp_path, DEBUG="true")
    # then both use one random key, kept readable by its owner only
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip().splitlines()[-1]
    assert len(key) >= 50 and key == second.stdout.strip().splitlines()[-1]
    kept = tmp_path / "secret_key"
    assert kept.read_text().strip() == key
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


@pytest.fixture(scope="module")
def https_server(django_db_setup: None) -> Iterator[LiveServer]:
    with live_server(PCF_HTTPS="true", PCF_TRUST_X_FORWARDED_PROTO="true") as live:
        yield live


@pytest.mark.django_db(transaction=True)
def test_https_settings_come_from_the_environment(https_server: LiveServer) -> None:
    # when the admin login page is fetched through a TLS proxy (X-Forwarded-Proto)
    page = httpx.get(
        f"{https_server.base}/admin/login/", headers={"X-Forwarded-Proto": "https"}, timeout=30
    )
    # then HSTS is sent and the CSRF cookie is Secure
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "secure" in page.headers["set-cookie"].lower()
    # and a plain-HTTP request (no proxy header) gets no HSTS
    plain = httpx.get(f"{https_server.base}/healthz", timeout=30)
    assert "Strict-Transport-Security" not in plain.headers


@pytest.mark.django_db
def test_the_admin_login_is_throttled() -> None:
    # given a staff account, and no failures counted yet for two client addresses
    # axes.utils needs the apps loaded (the settings are, once a test runs).
    from axes.utils import reset

    User.objects.create_superuser("ops", "ops@example.com", "right-password")
    attacker, colleague = "203.0.113.7", "198.51.100.8"
    for address in (attacker, colleague):
        reset(ip=address)
    browser = Client(REMOTE_ADDR=attacker)
    # when a client guesses the password wrong 4 times, it gets the form back
    for attempt in range(4):
        guess = browser.post("/admin/login/", {"username": "ops", "password": f"wrong-{attempt}"})
        assert guess.status_code == 200
    # then the 5th failure locks it out (429), even with the right password after it
    fifth = browser.post("/admin/login/", {"username": "ops", "password": "wrong-5"})
    right = browser.post("/admin/login/", {"username": "ops", "password": "right-password"})
    assert fifth.status_code == right.status_code == 429
    assert "_auth_user_id" not in browser.session
    # and another address is not affected
    other = Client(REMOTE_ADDR=colleague)
    response = other.post("/admin/login/", {"username": "ops", "password": "right-password"})
    assert response.status_code == 302
    reset(ip=attacker)


def test_compose_publishes_flower_on_the_loopback_only_behind_a_password() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    flower = compose["services"]["flower"]
    # then its port is bound to 127.0.0.1 on the host, and it starts through the guard
    assert all(str(port).startswith("127.0.0.1:") for port in flower["ports"])
    assert flower["command"][:3] == ["python", "-m", "pcf.flower"]
    assert ":?" in flower["environment"]["FLOWER_BASIC_AUTH"]
    procfile = (ROOT / "Procfile").read_text()
    assert "python -m pcf.flower --address=127.0.0.1" in procfile


@pytest.mark.parametrize(
    ("value", "usable"),
    [("", False), ("pcf", False), ("pcf:", False), (":pw", False), ("a:1,b:", False),
     ("pcf:pcf-local", True), ("a:1,b:2", True)],
)  # fmt: skip
def test_flower_needs_a_user_and_a_password(value: str, usable: bool) -> None:
    assert (basic_auth_problem(value) is None) is usable
