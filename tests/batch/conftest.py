"""Fixtures for batch tests (helpers live in tests/batch/helpers.py)."""

from __future__ import annotations

from typing import Any

import pytest

from resources.models import Resource
from tests.factories import ResourceFactory


@pytest.fixture
def make_resource(tenant: Any) -> Any:
    def make(public_id: str, **fields: Any) -> Resource:
        return ResourceFactory.create(tenant=tenant.client_model, public_id=public_id, **fields)

    return make
