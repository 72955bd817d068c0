"""Assertions and shortcuts shared by the API tests (tests/resources and tests/pcf)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.test import APIClient


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The contract's error shape, and nothing else in the body."""
    assert response.status_code == status, response.content
    body = json.loads(response.content)
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    for detail in error["details"]:
        assert {"field", "message"} <= set(detail)
    return error


def fields_of(error: dict[str, Any]) -> list[str]:
    return [d["field"] for d in error["details"]]


def create(api: APIClient, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Resource")
    body.setdefault("type", "document")
    response = api.post("/v1/resources", body, format="json")
    assert response.status_code == 201, response.content
    data: dict[str, Any] = response.json()["data"]
    return data
