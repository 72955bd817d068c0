"""Helpers for GraphQL tests: post documents as a tenant (the `gql` fixtures of
tests/graphql/conftest.py)."""

from __future__ import annotations

from typing import Any

from tests.tenants import Tenant


class Gql:
    """POSTs GraphQL documents as `tenant` and returns the decoded answer."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def raw(self, payload: Any, **extra: Any) -> Any:
        return self.tenant.api.post("/v1/graphql", payload, format="json", **extra)

    def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.raw({"query": query, "variables": variables})
        assert response.status_code == 200, response.content
        return response.json()

    def refused(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """A document past the limits: 400 in GraphQL shape, nothing run."""
        response = self.raw({"query": query, "variables": variables})
        assert response.status_code == 400, response.content
        body: dict[str, Any] = response.json()
        assert body["data"] is None
        return body
