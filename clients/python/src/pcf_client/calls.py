"""The contract's simple calls as data (method, path, query, body, how to read the
answer), so the sync and async clients share them and differ only in I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from pcf_client.models import BulkResult, JobState, Resource
from pcf_client.wire import json_object

T = TypeVar("T")

RESOURCE_FIELDS = ("id", "name", "type", "status", "metadata")
LIST_FILTERS = (
    "status", "type", "ids", "created_before", "created_after", "updated_before",
    "updated_after",
)  # fmt: skip
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    json: Any = None


def _resource(response: httpx.Response) -> Resource:
    return Resource.from_dict(json_object(response)["data"])


def _nothing(response: httpx.Response) -> None:
    return None


def _job(response: httpx.Response) -> JobState:
    return JobState.from_dict(json_object(response))


def seg(value: str) -> str:
    """An id as one path segment (ids are opaque: never let one add a segment)."""
    return quote(str(value), safe="")


def get_resource(resource_id: str) -> Call[Resource]:
    return Call("GET", f"/v1/resources/{seg(resource_id)}", _resource)


def create_resource(fields: Mapping[str, Any]) -> Call[Resource]:
    body = {k: v for k, v in fields.items() if v is not None}
    return Call("POST", "/v1/resources", _resource, json=body)


def update_resource(resource_id: str, changes: Mapping[str, Any]) -> Call[Resource]:
    return Call("PATCH", f"/v1/resources/{seg(resource_id)}", _resource, json=dict(changes))


def delete_resource(resource_id: str, soft: bool) -> Call[None]:
    params = {"soft": "true"} if soft else None
    return Call("DELETE", f"/v1/resources/{seg(resource_id)}", _nothing, params=params)


def query_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def list_params(filters: Mapping[str, Any], page_size: int) -> dict[str, Any]:
    unknown = set(filters) - set(LIST_FILTERS)
    if unknown:
        raise TypeError(f"unknown resource filter(s): {', '.join(sorted(unknown))}")
    params: dict[str, Any] = {k: query_value(v) for k, v in filters.items() if v is not None}
    params["limit"] = max(1, min(page_size, MAX_PAGE_SIZE))
    return params


def page(response: httpx.Response) -> tuple[list[dict[str, Any]], str | None]:
    body = json_object(response)
    return list(body.get("data") or []), (body.get("meta") or {}).get("next_cursor")


def get_job(job_id: str) -> Call[JobState]:
    return Call("GET", f"/v1/jobs/{seg(job_id)}", _job)


def bulk_filter(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The bulk endpoints' filter: `ids` stays a JSON array, times ISO strings."""
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if key == "ids" and isinstance(value, str):
            value = [v for v in value.split(",") if v]
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple | set | frozenset):
            value = list(value)
        out[key] = value
    return out


def bulk_update(
    filters: Mapping[str, Any], update: Mapping[str, Any], dry_run: bool, limit: int | None
) -> Call[BulkResult]:
    options: dict[str, Any] = {"dry_run": dry_run}
    if limit is not None:
        options["limit"] = limit
    body = {"filter": bulk_filter(filters), "update": dict(update), "options": options}

    def parse(response: httpx.Response) -> BulkResult:
        data = json_object(response)
        return BulkResult.from_dict(data, count_key="updated_count", dry_run=dry_run)

    return Call("POST", "/v1/bulk-update/resources", parse, json=body)


def bulk_delete(
    filters: Mapping[str, Any], soft_delete: bool, dry_run: bool, limit: int | None
) -> Call[BulkResult]:
    options: dict[str, Any] = {"dry_run": dry_run, "soft_delete": soft_delete}
    if limit is not None:
        options["limit"] = limit
    body = {"filter": bulk_filter(filters), "options": options}

    def parse(response: httpx.Response) -> BulkResult:
        data = json_object(response)
        return BulkResult.from_dict(data, count_key="deleted_count", dry_run=dry_run)

    return Call("POST", "/v1/bulk-delete/resources", parse, json=body)


def import_options(
    *,
    mapping: Mapping[str, Any] | None,
    validation: str,
    dry_run: bool,
    chunk_size: int | None,
    upsert: bool | None,
    upsert_key: str | None,
    webhook: Any,
) -> dict[str, Any]:
    if validation not in ("strict", "lenient"):
        raise ValueError("validation must be 'strict' or 'lenient'")
    options: dict[str, Any] = {"validation": validation, "dry_run": dry_run}
    if mapping:
        options["mapping"] = dict(mapping)
    extra = {
        "chunk_size": chunk_size, "upsert": upsert, "upsert_key": upsert_key, "webhook": webhook,
    }  # fmt: skip
    options.update({k: v for k, v in extra.items() if v is not None})
    return options


def bulk_import_body(records: list[dict[str, Any]], options: Mapping[str, Any]) -> dict[str, Any]:
    return {"resources": records, "options": {k: v for k, v in options.items() if v is not None}}
