"""GraphQL errors in the contract's vocabulary: every error carries
`extensions.code` (VALIDATION_ERROR, NOT_FOUND, CONFLICT, …) and `extensions.details`.
Unexpected exceptions become INTERNAL with no internals in the message."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from pcf.exceptions import PcfError

logger = logging.getLogger("pcf.graphql")


def is_expected(error: GraphQLError) -> bool:
    """Errors of the client's making: ours (PcfError) or GraphQL's own (syntax, validation)."""
    original = error.original_error
    return original is None or isinstance(original, PcfError | GraphQLError)


def format_error(error: GraphQLError) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    extensions = dict(error.extensions or {})
    if isinstance(original, PcfError):
        formatted["message"] = original.message
        extensions.update(code=original.code, details=original.details)
    elif not is_expected(error):
        formatted["message"] = "Internal error"
        extensions = {"code": "INTERNAL", "details": []}
    extensions.setdefault("code", "VALIDATION_ERROR")
    extensions.setdefault("details", [])
    formatted["extensions"] = extensions
    return formatted


def request_error(message: str, code: str) -> dict[str, Any]:
    """The body of an error raised before any operation ran (no `data`, per the spec)."""
    return {
        "data": None,
        "errors": [{"message": message, "extensions": {"code": code, "details": []}}],
    }
