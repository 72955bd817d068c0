"""`/v1/graphql` in the OpenAPI document.

The endpoint is strawberry's view, not a DRF one, so drf-spectacular never sees it; this
postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) adds it by hand:
POST of {query, variables, operationName} answered with {data, errors}."""

from __future__ import annotations

from typing import Any

from pcf.openapi import error_response

GRAPHQL_PATH = "/v1/graphql"

_ERROR = {
    "type": "object",
    "required": ["message", "extensions"],
    "properties": {
        "message": {"type": "string"},
        "path": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]}},
        "locations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"line": {"type": "integer"}, "column": {"type": "integer"}},
            },
        },
        "extensions": {
            "type": "object",
            "required": ["code", "details"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "The contract's code: VALIDATION_ERROR, NOT_FOUND, "
                    "CONFLICT, BATCH_TOO_LARGE, PAYLOAD_TOO_LARGE, INTERNAL, …",
                },
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}

SCHEMAS: dict[str, Any] = {
    "GraphQLRequest": {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string", "minLength": 1, "description": "The GraphQL document."},
            "variables": {
                "type": "object",
                "nullable": True,
                "additionalProperties": {},
                "description": "Values of the document's variables.",
            },
            "operationName": {
                "type": "string",
                "nullable": True,
                "description": "Which operation to run when the document holds several.",
            },
        },
    },
    "GraphQLResponse": {
        "type": "object",
        "properties": {
            "data": {
                "type": "object",
                "nullable": True,
                "additionalProperties": {},
                "description": "One key per root field (or alias); a failed one is null.",
            },
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/GraphQLError"}},
        },
    },
    "GraphQLError": _ERROR,
}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


OPERATION: dict[str, Any] = {
    "operationId": "graphql",
    "tags": ["graphql"],
    "summary": "Run a GraphQL document",
    "description": "GraphQL-over-HTTP (docs/graphql.md). A JSON array of up to 10 "
    "requests is also accepted and answered with an array. Limits: 500 aliases, depth 10, "
    "PCF_GRAPHQL_MAX_BYTES per body. Only POST: other methods are 405.",
    "requestBody": {"required": True, "content": _json("GraphQLRequest")},
    "security": [{"bearerAuth": []}],
    "responses": {
        "200": {
            "description": "Executed (possibly with errors: `data` null or partial, "
            "`errors` with extensions.code).",
            "content": _json("GraphQLResponse"),
        },
        "400": {
            "description": "Not a GraphQL request (body not JSON, no query, too many "
            "batched operations).",
            "content": _json("GraphQLResponse"),
        },
        "401": error_response("Missing or bad bearer token (REST error shape)."),
        "405": error_response("Any method but POST (REST error shape)."),
        "413": {
            "description": "Body over PCF_GRAPHQL_MAX_BYTES (PAYLOAD_TOO_LARGE).",
            "content": _json("GraphQLResponse"),
        },
    },
}


def add_graphql_path(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: document POST /v1/graphql."""
    result.setdefault("paths", {})[GRAPHQL_PATH] = {"post": OPERATION}
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(SCHEMAS)
    return result
