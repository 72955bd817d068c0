"""Resource filters, shared by the list endpoint, bulk update/delete and GraphQL.

Each value is validated: a typo must never widen a bulk delete to the whole tenant,
so unknown keys are errors too."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from pcf.exceptions import ValidationError, field_detail
from pcf.timefmt import parse_iso
from resources.models import Resource
from resources.parsing import STATUSES, TYPES, is_valid_id

FILTER_KEYS = (
    "status",
    "type",
    "ids",
    "created_before",
    "created_after",
    "updated_before",
    "updated_after",
)
_DATE_LOOKUPS = {
    "created_before": "created_at__lt",
    "created_after": "created_at__gt",
    "updated_before": "updated_at__lt",
    "updated_after": "updated_at__gt",
}


@dataclass(frozen=True)
class ResourceFilter:
    status: str | None = None
    type: str | None = None
    ids: list[str] | None = None
    dates: dict[str, datetime] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return self.status is None and self.type is None and self.ids is None and not self.dates


def parse_filter(
    raw: Any, *, allowed_extra: tuple[str, ...] = (), ids_from_query: bool = False
) -> ResourceFilter:
    """Validate a filter given as a dict (JSON body, or query params already split).

    `ids` is a JSON array of strings; only a list query string (`ids_from_query`, the
    REST `?ids=a,b,c`) sends it comma-separated. Enum values match case-insensitively
    (GraphQL clients send `ARCHIVED` or `archived`)."""
    if not isinstance(raw, dict):
        raise ValidationError("filter must be a JSON object")
    problems: list[dict[str, Any]] = []
    for key in raw:
        if key not in FILTER_KEYS and key not in allowed_extra:
            problems.append(field_detail(key, "Unknown filter"))

    def enum(name: str, allowed: list[str]) -> str | None:
        value = raw.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or value.lower() not in allowed:
            problems.append(
                field_detail(name, f"Invalid {name} value; expected one of: {', '.join(allowed)}")
            )
            return None
        return value.lower()

    status = enum("status", STATUSES)
    type_ = enum("type", TYPES)

    ids: list[str] | None = None
    raw_ids = raw.get("ids")
    if raw_ids is not None:
        if ids_from_query and isinstance(raw_ids, str):
            raw_ids = [part for part in raw_ids.split(",") if part]
        if not isinstance(raw_ids, list) or not all(isinstance(i, str) for i in raw_ids):
            message = (
                "ids must be comma-separated resource ids"
                if ids_from_query
                else "ids must be a JSON array of resource ids"
            )
            problems.append(field_detail("ids", message))
        else:
            if not all(is_valid_id(i) for i in raw_ids):
                problems.append(field_detail("ids", "ids contains a malformed id"))
            ids = raw_ids

    dates: dict[str, datetime] = {}
    for name in _DATE_LOOKUPS:
        value = raw.get(name)
        if value is None:
            continue
        parsed = parse_iso(value) if isinstance(value, str) else None
        if parsed is None:
            problems.append(field_detail(name, "Must be an ISO 8601 timestamp"))
        else:
            dates[name] = parsed

    if problems:
        raise ValidationError("Invalid filter", details=problems)
    return ResourceFilter(status=status, type=type_, ids=ids, dates=dates)


def apply_filter(queryset: QuerySet[Resource], spec: ResourceFilter) -> QuerySet[Resource]:
    if spec.status is not None:
        queryset = queryset.filter(status=spec.status)
    if spec.type is not None:
        queryset = queryset.filter(type=spec.type)
    if spec.ids is not None:
        queryset = queryset.filter(public_id__in=spec.ids)
    for name, value in spec.dates.items():
        queryset = queryset.filter(**{_DATE_LOOKUPS[name]: value})
    return queryset
