"""The shape of a GraphQL-over-HTTP request body, checked before strawberry reads it:
an object with a string `query`, or a non-empty list of at most MAX_BATCHED_OPERATIONS
such objects. Anything else is a 400 in GraphQL shape, never a 200 or a 500."""

from __future__ import annotations

from typing import Any

from pcf.exceptions import ValidationError

# Operations per batched request (a JSON array of operations); each still obeys the
# per-document limits, so one request does at most this many times their work.
MAX_BATCHED_OPERATIONS = 10

_OPTIONAL = {"variables": dict, "operationName": str, "extensions": dict}
_TYPE_NAMES = {dict: "an object", str: "a string"}


def _check_operation(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ValidationError(f"{where} must be a JSON object with a string `query`")
    if not isinstance(value.get("query"), str):
        raise ValidationError(f"{where}: `query` is required and must be a string")
    for key, kind in _OPTIONAL.items():
        if value.get(key) is not None and not isinstance(value[key], kind):
            raise ValidationError(f"{where}: `{key}` must be {_TYPE_NAMES[kind]} or null")


def check_request_shape(body: Any) -> None:
    """Raise ValidationError unless `body` is one GraphQL request or a batch of them."""
    if isinstance(body, list):
        if not 1 <= len(body) <= MAX_BATCHED_OPERATIONS:
            raise ValidationError(
                f"A batched request holds 1 to {MAX_BATCHED_OPERATIONS} operations; "
                f"this one has {len(body)}"
            )
        for position, item in enumerate(body):
            _check_operation(item, f"Operation {position}")
        return
    _check_operation(body, "The request body")
