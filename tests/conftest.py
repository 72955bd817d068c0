"""Shared fixtures: tenants with real tokens and authenticated API clients.

Area-specific fixtures live in tests/<area>/conftest.py; helpers that tests import
live in plain modules (tests/tenants.py, tests/<area>/helpers.py), never in a conftest."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.tenants import Tenant

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
