"""Fixtures for the engine's tests (helpers live in tests/jobs/helpers.py)."""

from __future__ import annotations

from typing import Any

import pytest

import tests.jobs.handlers  # noqa: F401 - registers the test.* handlers here too


@pytest.fixture
def allow_private_webhooks(settings: Any) -> None:
    settings.PCF_WEBHOOK_ALLOW_PRIVATE = True
