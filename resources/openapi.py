"""The resource endpoints' request bodies and parameters in the OpenAPI document.

The views read bodies as plain JSON (one pydantic validator for every write path), so
drf-spectacular sees only `dict`; this postprocessing hook states what they accept:
types, lengths, enums and ranges, as the validators check them. A schema-valid request
is accepted, a schema-invalid one refused (the API fuzz test, tests/pcf/test_api_fuzz.py,
holds the two to each other)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from jobs.parsing import (
    EVENT_PATTERN,
    HEADER_VALUE_PATTERN,
    MAX_HEADERS,
    MAX_URL_LENGTH,
    URL_PATTERN,
)
from pcf.bounds import BIGINT_MAX
from pcf.pagination import CURSOR_LENGTH, CURSOR_PATTERN
from resources.parsing import ID_PATTERN, STATUSES, TYPES

NO_NUL = "^[^\\x00]*$"  # PostgreSQL text and jsonb cannot hold U+0000

_REF = "#/components/schemas/"


_WEBHOOK_URL = {"type": "string", "maxLength": MAX_URL_LENGTH, "pattern": URL_PATTERN}

# A job's webhook option (jobs.parsing.parse_webhook_option), inlined where it is taken:
# OpenAPI 3.0 ignores `nullable` beside a $ref. Null is the same as absent.
WEBHOOK_OPTION: dict[str, Any] = {
    "description": "Where to announce the job's end: a URL, or {url, events, headers}. "
    "Signed with the tenant's webhook secret; private, loopback and link-local targets "
    "are refused (docs/jobs.md).",
    "nullable": True,
    "anyOf": [
        _WEBHOOK_URL,
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["url"],
            "properties": {
                "url": _WEBHOOK_URL,
                "events": {
                    "description": "Default: every event. A prefix (`batch.completed`) is ignored.",
                    "type": "array",
                    "nullable": True,
                    "minItems": 1,
                    "items": {"type": "string", "pattern": EVENT_PATTERN},
                },
                "headers": {
                    "description": "Sent with every delivery. Names are HTTP tokens; Host, "
                    "Content-Type, Content-Length, Connection, Transfer-Encoding, X-PCF-Signature "
                    "and X-PCF-Delivery-Id are PCF's.",
                    "type": "object",
                    "nullable": True,
                    "maxProperties": MAX_HEADERS,
                    "additionalProperties": {"type": "string", "pattern": HEADER_VALUE_PATTERN},
                },
            },
        },
    ],
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _metadata_levels(max_depth: int) -> dict[str, Any]:
    """One schema per nesting level, so the document states the depth limit exactly:
    a value at level n may be an array or object only while n <= max_depth."""
    levels: dict[str, Any] = {}
    for level in range(2, max_depth + 2):
        variants: list[dict[str, Any]] = [
            {"type": "string", "pattern": NO_NUL},
            {"type": "number"},
            {"type": "boolean"},
        ]
        if level <= max_depth:
            inner = _ref(f"MetadataLevel{level + 1}")
            variants += [
                {"type": "array", "items": inner},
                {"type": "object", "additionalProperties": inner},
            ]
        levels[f"MetadataLevel{level}"] = {
            "description": f"A metadata value at nesting level {level}; no U+0000.",
            "anyOf": variants,
            "nullable": True,
        }
    return levels


SCHEMAS: dict[str, Any] = {
    # Any JSON value, null included (OpenAPI 3.0 has no type list).
    "AnyJson": {
        "anyOf": [
            {"type": "object", "nullable": True},
            {"type": "array", "items": {}},
            {"type": "string"},
            {"type": "number"},
            {"type": "boolean"},
        ]
    },
    "ResourceId": {"type": "string", "pattern": ID_PATTERN},
    "ResourceType": {"type": "string", "enum": TYPES},
    "ResourceStatus": {"type": "string", "enum": STATUSES},
    "ResourceName": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": NO_NUL},
    **_metadata_levels(settings.PCF_METADATA_MAX_DEPTH),
    "Metadata": {
        "type": "object",
        "description": "A JSON object of at most 64 KiB as compact UTF-8 JSON and "
        f"{settings.PCF_METADATA_MAX_DEPTH} levels deep (a flat object is 1), with no U+0000 "
        "anywhere.",
        "additionalProperties": _ref("MetadataLevel2"),
    },
    "ResourceCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "type"],
        "properties": {
            "id": _ref("ResourceId"),
            "name": _ref("ResourceName"),
            "type": _ref("ResourceType"),
            "status": _ref("ResourceStatus"),
            "metadata": _ref("Metadata"),
        },
    },
    "ResourcePatch": {
        "type": "object",
        "additionalProperties": False,
        "description": "Fields to change; `metadata` merges by RFC 7396 (a null value "
        "removes a key).",
        "properties": {
            "name": _ref("ResourceName"),
            "type": _ref("ResourceType"),
            "status": _ref("ResourceStatus"),
            "metadata": _ref("Metadata"),
        },
    },
    "BatchRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["operations"],
        "properties": {
            "operations": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "description": "`{id?, method, path, body?, depends_on?, idempotency_key?}` "
                "each (docs/batch.md). A malformed operation is that operation's "
                "VALIDATION_ERROR in a 200 answer, so any JSON value is accepted here. "
                "More than 1,000 operations (5,000 DELETEs, 500 GETs) is 413.",
                "items": _ref("AnyJson"),
            },
            "options": _ref("BatchOptions"),
        },
    },
    "BatchOptions": {
        "type": "object",
        "additionalProperties": False,
        "nullable": True,
        "properties": {
            "atomic": {"type": "boolean"},
            "continue_on_error": {"type": "boolean"},
            # null is the default (1), as for timeout_ms
            "parallel": {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX, "nullable": True},
            "timeout_ms": {
                "type": "integer",
                "minimum": 1,
                "maximum": settings.PCF_BATCH_MAX_TIMEOUT_MS,
                "nullable": True,
            },
            "suppress_success": {"type": "boolean"},
            "soft_delete": {"type": "boolean"},
            "async": {"type": "boolean"},
            "webhook": WEBHOOK_OPTION,
        },
    },
    "BulkFilter": {
        "type": "object",
        "additionalProperties": False,
        "description": "Empty (or `all` alone) matches nothing unless `all` is true.",
        "properties": {
            "status": {"type": "string", "enum": STATUSES},
            "type": {"type": "string", "enum": TYPES},
            "ids": {"type": "array", "items": _ref("ResourceId")},
            "created_before": {"type": "string", "format": "date-time"},
            "created_after": {"type": "string", "format": "date-time"},
            "updated_before": {"type": "string", "format": "date-time"},
            "updated_after": {"type": "string", "format": "date-time"},
            "all": {"type": "boolean", "enum": [True]},
        },
        "minProperties": 1,
    },
}


def _bulk(update: bool) -> dict[str, Any]:
    options: dict[str, Any] = {
        "dry_run": {"type": "boolean"},
        # Inline: 3.0 ignores `nullable` beside a $ref, and a null limit means none.
        "limit": {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX, "nullable": True},
        "webhook": WEBHOOK_OPTION,
    }
    if not update:
        options["soft_delete"] = {"type": "boolean"}
    properties: dict[str, Any] = {
        "filter": _ref("BulkFilter"),
        "options": {"type": "object", "additionalProperties": False, "properties": options},
    }
    required = ["filter"]
    if update:
        properties["update"] = {**SCHEMAS["ResourcePatch"], "minProperties": 1}
        required.append("update")
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


SCHEMAS["BulkUpdateRequest"] = _bulk(update=True)
SCHEMAS["BulkDeleteRequest"] = _bulk(update=False)
# An option given as null takes its default (imports/parsing.py), as if it were absent.
_BULK_IMPORT_OPTIONS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "An option given as null takes its default.",
    "properties": {
        "upsert": {"type": "boolean", "nullable": True},
        "upsert_key": {"type": "string", "enum": ["name", "id", None], "nullable": True},
        "validate_before_import": {"type": "boolean", "nullable": True},
        "chunk_size": {
            "type": "integer",
            "minimum": 1,
            "maximum": settings.PCF_IMPORT_CHUNK_SIZE_MAX,
            "nullable": True,
        },
        "webhook": WEBHOOK_OPTION,
        # The cookbook's bare-URL form; `webhook` wins when both are given.
        "notification_webhook": WEBHOOK_OPTION,
    },
}
_CHECKED_FIRST = {
    "required": ["validate_before_import"],
    "properties": {"validate_before_import": {"enum": [True]}},
}
_BY_ID = {
    "required": ["upsert", "upsert_key"],
    "properties": {"upsert": {"enum": [True]}, "upsert_key": {"enum": ["id"]}},
}


def _bulk_import(items: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["resources"],
        "properties": {
            "resources": {
                "type": "array",
                "minItems": 1,
                "maxItems": settings.PCF_BULK_MAX_ITEMS,
                "items": items,
            },
            "options": {**_BULK_IMPORT_OPTIONS, **options},
        },
    }


SCHEMAS["BulkImportRequest"] = {
    "description": "Without validate_before_import, an invalid item is that row's error in "
    "the job (any JSON value is accepted here); with it, every item must be a valid "
    "resource (and carry its id to upsert by id), or the request is a 400.",
    "anyOf": [
        _bulk_import(_ref("AnyJson"), {"not": _CHECKED_FIRST}),
        _bulk_import(_ref("ResourceCreate"), {"not": _BY_ID}),
        _bulk_import({**SCHEMAS["ResourceCreate"], "required": ["id", "name", "type"]}, {}),
    ],
}

REQUEST_BODIES: dict[str, dict[str, Any]] = {
    "resources_create": _json(_ref("ResourceCreate")),
    # An empty PATCH changes nothing and answers the resource.
    "resources_partial_update": {**_json(_ref("ResourcePatch")), "required": False},
    "batch_create": _json(_ref("BatchRequest")),
    "bulk_update_resources_create": _json(_ref("BulkUpdateRequest")),
    "bulk_delete_resources_create": _json(_ref("BulkDeleteRequest")),
    "bulk_resources_create": _json(_ref("BulkImportRequest")),
    "import_resources_create": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "options": {
                            "type": "object",
                            "description": "mapping, validation, dry_run, chunk_size, "
                            "upsert, upsert_key, webhook (docs/imports.md).",
                        },
                    },
                },
                "encoding": {"options": {"contentType": "application/json"}},
            },
            "text/csv": {"schema": {"type": "string", "minLength": 1}},
        },
    },
}

_TIMESTAMP = {"type": "string", "format": "date-time"}
CURSOR = "Opaque: `meta.next_cursor` of the previous page (empty or absent: the first)."
PARAMETERS: dict[str, dict[str, Any]] = {
    "status": {"type": "string", "enum": STATUSES},
    "type": {"type": "string", "enum": TYPES},
    "ids": {
        "type": "string",
        # Ids of 1-64 characters, each followed by commas or the end (empty parts skipped).
        "pattern": "^,*([A-Za-z0-9_-]{1,64}(,+|$))*$",
        "description": "Comma-separated resource ids.",
    },
    "limit": {
        "type": "integer",
        "minimum": 1,
        "maximum": settings.PCF_PAGE_SIZE_MAX,
        "default": settings.PCF_PAGE_SIZE_DEFAULT,
    },
    "cursor": {
        "type": "string",
        "pattern": CURSOR_PATTERN,
        "maxLength": CURSOR_LENGTH,
        "description": CURSOR,
    },
    "created_before": _TIMESTAMP,
    "created_after": _TIMESTAMP,
    "updated_before": _TIMESTAMP,
    "updated_after": _TIMESTAMP,
    "soft": {"type": "boolean"},
    "resource_id": {"type": "string", "pattern": ID_PATTERN},
}
RESOURCE_OPERATIONS = {
    "resources_list",
    "resources_create",
    "resources_retrieve",
    "resources_partial_update",
    "resources_destroy",
}


def document_resources(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: resource bodies and parameters."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    for item in result.get("paths", {}).values():
        for operation in item.values():
            operation_id = operation.get("operationId")
            body = REQUEST_BODIES.get(operation_id)
            if body is not None:
                operation["requestBody"] = body
            if operation_id in RESOURCE_OPERATIONS:
                for parameter in operation.get("parameters", []):
                    schema = PARAMETERS.get(parameter["name"])
                    if schema is not None:
                        parameter["schema"] = schema
    return result
