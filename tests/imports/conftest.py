"""Fixtures for import tests (helpers live in tests/imports/helpers.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.imports.helpers import COOKBOOK_OPTIONS


@pytest.fixture
def cookbook_options() -> dict[str, Any]:
    return json.loads(json.dumps(COOKBOOK_OPTIONS))
