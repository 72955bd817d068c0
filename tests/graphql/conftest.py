"""Fixtures for GraphQL tests (helpers live in tests/graphql/helpers.py)."""

from __future__ import annotations

import pytest

from tests.graphql.helpers import Gql
from tests.tenants import Tenant


@pytest.fixture
def gql(tenant: Tenant) -> Gql:
    return Gql(tenant)


@pytest.fixture
def other_gql(other_tenant: Tenant) -> Gql:
    return Gql(other_tenant)
