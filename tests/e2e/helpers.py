"""Helpers for the browser tests: Chromium's settings, the operator's logins, pages that
record console errors (tests/e2e/conftest.py's fixtures use them too)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
CHROMIUM = os.environ.get("PCF_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ADMIN_USER, ADMIN_PASSWORD = "operator", "operator-pw-e2e-1"
FLOWER_LOGIN = ("flower", "flower-pw-e2e-1")
# Browser waits: generous for a loaded 2-core machine, still far below a hang.
TIMEOUT_MS = 20_000


@dataclass
class Console:
    """Console errors and uncaught exceptions of every page of one test."""

    problems: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                where = message.location.get("url", "")
                self.problems.append(f"console error on {page.url}: {message.text} ({where})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error on {page.url}: {exc}"))
        page.set_default_timeout(TIMEOUT_MS)
        return page


def new_page(browser: Browser, console: Console, base: str, **options: Any) -> Page:
    context: BrowserContext = browser.new_context(base_url=base, accept_downloads=True, **options)
    return console.watch(context.new_page())


@dataclass(frozen=True)
class Flower:
    """A running Flower (the `flower` fixture) and the URL it answers on."""

    url: str
    process: subprocess.Popen[bytes]
