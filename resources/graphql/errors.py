"""GraphQL errors in the contract's vocabulary: every error carries
`extensions.code` (VALIDATION_ERROR, NOT_FOUND, CONFLICT, …) and `extensions.details`.
Unexpected exceptions become INTERNAL with no internals in the message."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from graphql.validation.validate import ValidationAbortedError
from strawberry.utils.str_converters import to_camel_case

from pcf.exceptions import PcfError

logger = logging.getLogger("pcf.graphql")


def is_expected(error: GraphQLError) -> bool:
    """Errors of the client's making: ours (PcfError) or GraphQL's own (syntax, validation)."""
    original = error.original_error
    return original is None or isinstance(original, PcfError | GraphQLError)


# graphql-core's own words when a document exhausts its validation budget.
_BUDGET_SPENT = "Validation aborted."


def graphql_field(field: str) -> str:
    """A REST detail field as the GraphQL client named it: the services validate with
    REST names (`updated_before`, `options.dry_run`), the client sent camelCase input
    fields and arguments (`updatedBefore`, `dryRun`). Only the first segment is a schema
    name; what follows (metadata keys) is the client's own and left as sent."""
    head, dot, rest = field.removeprefix("options.").partition(".")
    return to_camel_case(head) + dot + rest


def _graphql_details(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**d, "field": graphql_field(d["field"])} if isinstance(d.get("field"), str) else d
        for d in details
    ]


def format_error(error: GraphQLError) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    extensions = dict(error.extensions or {})
    if isinstance(original, PcfError):
        formatted["message"] = original.message
        extensions.update(code=original.code, details=_graphql_details(original.details))
    elif isinstance(error, ValidationAbortedError) and error.message == _BUDGET_SPENT:
        # Overlapping fields or fragment spreads beyond what the validator will compare.
        formatted["message"] = (
            "The document is too complex to validate: it repeats fields or fragment "
            "spreads beyond graphql-core's validation budget; send fewer repeated "
            "selections or split it into several documents"
        )
        extensions = {"code": "BATCH_TOO_LARGE", "details": []}
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
