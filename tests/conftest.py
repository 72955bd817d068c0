"""Shared fixtures: tenants with real tokens and authenticated API clients.

Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from pcf.models import ApiClient

pytest_plugins = ["tests.worker_fixtures"]


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
