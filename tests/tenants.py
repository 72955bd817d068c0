"""Tenants for tests: an ApiClient with a real token and an authenticated test client
(the `tenant` and `other_tenant` fixtures of tests/conftest.py build them)."""

from __future__ import annotations

from rest_framework.test import APIClient

from pcf.models import ApiClient


class Tenant:
    """A tenant with its token and an authenticated test client."""

    def __init__(self, name: str) -> None:
        self.client_model, self.token = ApiClient.issue(name)
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}
