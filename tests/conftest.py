"""Shared fixtures: tenants with real tokens and authenticated API clients.

Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from pcf.models import ApiClient

pytest_plugins = ["tests.worker_fixtures"]

E2E_DIR = Path(__file__).parent / "e2e"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--e2e",
        action="store_true",
        help="also run the browser tests of tests/e2e (`make e2e`; they need Chromium)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The browser tests run only with --e2e (`make e2e`, which installs Chromium, and
    .ci/run after `make test`); every other run deselects them."""
    if config.getoption("--e2e"):
        return
    browser = [item for item in items if E2E_DIR in item.path.parents]
    if browser:
        config.hook.pytest_deselected(items=browser)
        items[:] = [item for item in items if E2E_DIR not in item.path.parents]


class Tenant:
    """A tenant with its token and an authenticated test client."""

    def __init__(self, name: str) -> None:
        self.client_model, self.token = ApiClient.issue(name)
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def tenant(db: None) -> Tenant:
    return Tenant("tenant-a")


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    return Tenant("tenant-b")


@pytest.fixture
def api(tenant: Tenant) -> APIClient:
    return tenant.api


@pytest.fixture
def anon() -> APIClient:
    return APIClient()
