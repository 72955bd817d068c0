"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium; Playwright's
own browser download is not used) against real processes on the pytest-django test
database: uvicorn serving pcf.asgi, the session's Celery workers, and Flower.

Run by `make e2e` (which installs Chromium when it is missing) or `pytest --e2e
tests/e2e`; other runs deselect them (tests/conftest.py). Every page a test opens
fails the test on any console error or uncaught page error."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.helpers import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    ASYNC_UNSAFE,
    CHROMIUM,
    CHROMIUM_ARGS,
    FLOWER_LOGIN,
    Console,
    Flower,
    new_page,
)
from tests.live_server import LiveServer, live_server
from tests.polling import wait_for
from tests.stack import free_port
from tests.worker_fixtures import _test_database_env


@pytest.fixture(scope="session", autouse=True)
def _sync_database_calls_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an event loop running in this thread, so Django would
    refuse the tests' own (synchronous) database calls. Only while browser tests run;
    the servers they start drop it again (tests/live_server.py,
    tests/worker_fixtures.py, `flower` below)."""
    before = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    yield
    if before is None:
        os.environ.pop(ASYNC_UNSAFE, None)
    else:
        os.environ[ASYNC_UNSAFE] = before


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make e2e` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def server(django_db_setup: None, django_db_blocker: Any) -> Iterator[LiveServer]:
    """The web process (DEBUG off, as deployed), for the whole session."""
    with django_db_blocker.unblock(), live_server() as running:
        yield running


@pytest.fixture
def console() -> Iterator[Console]:
    seen = Console()
    yield seen
    assert seen.problems == [], "\n".join(seen.problems)


@pytest.fixture
def admin_page(
    browser: Browser, console: Console, server: LiveServer, transactional_db: None
) -> Iterator[Page]:
    """A page logged in to the admin through its login form, as an operator would."""
    from django.contrib.auth.models import User

    User.objects.create_superuser(ADMIN_USER, "ops@example.com", ADMIN_PASSWORD)
    page = new_page(browser, console, server.base)
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", ADMIN_USER)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    yield page
    page.context.close()


@pytest.fixture
def flower(transactional_db: None, tmp_path: Path) -> Iterator[Flower]:
    """A real Flower (`python -m pcf.flower`, as the Procfile runs it) on the test broker."""
    port = free_port()
    env = {
        **os.environ,
        **_test_database_env(),
        "FLOWER_BASIC_AUTH": ":".join(FLOWER_LOGIN),
        "SECRET_KEY": "test-secret-key-for-flower",
    }
    env.pop(ASYNC_UNSAFE, None)
    argv = [sys.executable, "-m", "pcf.flower", "--address=127.0.0.1", f"--port={port}"]
    with open(tmp_path / "flower.log", "wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError((tmp_path / "flower.log").read_text()[-3000:])
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(url, timeout=2).status_code == 401  # up, and asks for a login
        return False

    try:
        wait_for(answers, timeout=60, what="Flower answering")
        yield Flower(url=url, process=process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)
