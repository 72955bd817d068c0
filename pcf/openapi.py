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
