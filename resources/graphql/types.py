"""GraphQL types: the Resource object, its enums (capitals on the wire, stored lower-case),
inputs, mutation payloads and a DateTime scalar that speaks the contract's `…Z` format."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from pcf.timefmt import iso_z, parse_iso
from resources.models import Resource


def _serialize_datetime(value: datetime) -> str:
    return iso_z(value) or ""


def _parse_datetime(value: Any) -> datetime:
    parsed = parse_iso(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError("Must be an ISO 8601 timestamp")
    return parsed


# Replaces strawberry's DateTime (schema config scalar_map) so timestamps read
# `2024-01-01T00:00:00Z` as in REST.
DATETIME_Z = strawberry.scalar(
    name="DateTime",
    description="ISO 8601 timestamp in UTC, e.g. 2024-01-01T00:00:00Z",
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
)


@strawberry.enum(name="ResourceType")
class ResourceTypeEnum(Enum):
    DOCUMENT = "document"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    OTHER = "other"


@strawberry.enum(name="ResourceStatus")
class ResourceStatusEnum(Enum):
    DRAFT = "draft"
    ACTIVE = "active"
    PUBLISHED = "published"
    ARCHIVED = "archived"


@strawberry.type(name="Resource")
class ResourceNode:
    id: strawberry.ID
    name: str
    type: ResourceTypeEnum
    status: ResourceStatusEnum
    metadata: JSON
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, resource: Resource) -> ResourceNode:
        return cls(
            id=strawberry.ID(resource.public_id),
            name=resource.name,
            type=ResourceTypeEnum(resource.type),
            status=ResourceStatusEnum(resource.status),
            metadata=resource.metadata,
            created_at=resource.created_at,
            updated_at=resource.updated_at,
        )


@strawberry.input
class CreateResourceInput:
    id: strawberry.ID | None = strawberry.UNSET
    name: str
    type: ResourceTypeEnum
    status: ResourceStatusEnum | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


@strawberry.input
class UpdateResourceInput:
    name: str | None = strawberry.UNSET
    type: ResourceTypeEnum | None = strawberry.UNSET
    status: ResourceStatusEnum | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


@strawberry.input(
    description=(
        "Same keys as the REST bulk filter, in camelCase. Values are case-insensitive "
        "strings (`archived` or `ARCHIVED`); an empty filter needs `all: true`."
    )
)
class ResourceFilter:
    status: str | None = strawberry.UNSET
    type: str | None = strawberry.UNSET
    ids: list[strawberry.ID] | None = strawberry.UNSET
    created_before: str | None = strawberry.UNSET
    created_after: str | None = strawberry.UNSET
    updated_before: str | None = strawberry.UNSET
    updated_after: str | None = strawberry.UNSET
    all: bool | None = strawberry.UNSET


@strawberry.type
class ResourcePayload:
    resource: ResourceNode | None


@strawberry.type
class BulkDeleteError:
    id: strawberry.ID | None
    message: str


@strawberry.type
class BulkDeletePayload:
    deleted_count: int
    deleted_ids: list[strawberry.ID]
    errors: list[BulkDeleteError]
    matched_count: int | None = strawberry.field(
        default=None, description="Rows the filter matched (set on dry runs and jobs)."
    )
    job_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Set when the matched set was larger than PCF_BULK_SYNC_LIMIT: "
        "the delete runs as a bulk_delete job (follow it at /v1/jobs/{id}).",
    )


def given(obj: object) -> dict[str, Any]:
    """The fields a client actually sent in an input object (UNSET ones left out),
    with enums back to their stored lower-case values, ready for the REST validators."""
    out: dict[str, Any] = {}
    for name, value in vars(obj).items():
        if value is strawberry.UNSET:
            continue
        out[name] = value.value if isinstance(value, Enum) else value
    return out
