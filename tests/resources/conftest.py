"""Fixtures for the Resource API tests."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.resources.helpers import create


@pytest.fixture
def make(api: APIClient) -> Any:
    def _make(**body: Any) -> dict[str, Any]:
        return create(api, **body)

    return _make
