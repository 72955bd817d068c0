"""OpenAPI (drf-spectacular) integration: the bearer scheme and clean public paths."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents pcf.auth.BearerTokenAuthentication as `Authorization: Bearer <token>`."""

    target_class = "pcf.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return build_bearer_security_scheme_object(
            header_name="HTTP_AUTHORIZATION",
            token_prefix="Bearer",  # noqa: S106 - the scheme name, not a secret
        )


Endpoint = tuple[str, str, str, Any]


def strip_optional_slash(endpoints: list[Endpoint], **kwargs: Any) -> list[Endpoint]:
    """URL patterns accept an optional trailing slash (`resources/?$`), which the schema
    would show as `/v1/resources/`; the contract's paths have none. Routes that require
    their slash keep it."""
    seen: set[tuple[str, str]] = set()
    out: list[Endpoint] = []
    for path, path_regex, method, callback in endpoints:
        optional = path_regex.endswith("/?$") and path.endswith("/")
        clean = path[:-1] if optional else path
        if (clean, method) in seen:
            continue
        seen.add((clean, method))
        out.append((clean, path_regex, method, callback))
    return out


def error_response(description: str) -> dict[str, Any]:
    """An OpenAPI response in the contract's error shape, for hand-described routes."""
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message", "details"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "details": {"type": "array", "items": {"type": "object"}},
                            },
                        }
                    },
                }
            }
        },
    }


# --- Error answers -----------------------------------------------------------------------

ERROR_CODES = {
    400: ["VALIDATION_ERROR"],
    401: ["UNAUTHENTICATED"],
    404: ["NOT_FOUND"],
    405: ["METHOD_NOT_ALLOWED"],
    409: ["CONFLICT"],
    413: ["PAYLOAD_TOO_LARGE", "BATCH_TOO_LARGE", "RESPONSE_TOO_LARGE"],
    415: ["UNSUPPORTED_MEDIA_TYPE"],
    422: ["IDEMPOTENCY_KEY_REUSED"],
    429: ["RATE_LIMITED"],
    500: ["INTERNAL"],
}
_DESCRIPTIONS = {
    400: "Invalid request (details name each problem).",
    401: "Missing or bad bearer token.",
    404: "No such object in your tenant.",
    409: "Conflict with the current state, or an Idempotency-Key still in progress.",
    413: "Body or batch over its limit.",
    415: "Unsupported content type or encoding.",
    422: "Idempotency-Key reused with another request.",
    429: "Over the tenant's rate limit; retry after `Retry-After` seconds.",
    500: "Unexpected failure (logged; no internals shown).",
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
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
        }
    },
}
# The contract's POSTs that honour Idempotency-Key (pcf.idempotency.COVERED_PATH).
IDEMPOTENT_OPERATIONS = {
    "resources_create",
    "batch_create",
    "bulk_resources_create",
    "import_resources_create",
    "bulk_update_resources_create",
    "bulk_delete_resources_create",
}
IDEMPOTENCY_HEADER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Run this request at most once in 24 h (docs/batch.md).",
    # 1-255 characters once surrounding spaces are stripped.
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "\\S"},
}


def documented_error(status: int, codes: list[str] | None = None) -> dict[str, Any]:
    """An error answer in the contract's shape, listing the codes it can carry."""
    codes = codes or ERROR_CODES[status]
    response: dict[str, Any] = {
        "description": f"{_DESCRIPTIONS.get(status, 'Error')} Codes: {', '.join(codes)}.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 1}}
        }
    return response


def _statuses(operation: dict[str, Any]) -> list[int]:
    statuses = [401, 429, 500]
    params = operation.get("parameters", [])
    if any(p["in"] == "path" for p in params):
        statuses.append(404)
    if any(p["in"] == "query" for p in params) or "requestBody" in operation:
        statuses.append(400)
    if "requestBody" in operation:
        statuses += [413, 415]
    if operation.get("operationId") in IDEMPOTENT_OPERATIONS:
        statuses += [409, 422]
    return sorted(set(statuses))


def document_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (last): every authenticated operation lists
    the error answers it can give, in the contract's shape; idempotent POSTs document
    their header. Answers an operation already documents are left as they are."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if not operation.get("security"):
                continue
            responses = operation.setdefault("responses", {})
            for status in _statuses(operation):
                responses.setdefault(str(status), documented_error(status))
            if operation.get("operationId") in IDEMPOTENT_OPERATIONS:
                names = {p["name"] for p in operation.setdefault("parameters", [])}
                if IDEMPOTENCY_HEADER["name"] not in names:
                    operation["parameters"].append(IDEMPOTENCY_HEADER)
    return result
