"""Parsing the bulk-update / bulk-delete request bodies (and GraphQL's equivalent).

Everything is validated before anything runs: the filter (unknown keys and bad dates
are VALIDATION_ERRORs, so a typo never widens a delete), the update body, the options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.parsing import WebhookOption, parse_webhook_option
from pcf.bounds import bounded_int
from pcf.exceptions import ValidationError, field_detail, field_error, field_errors
from resources.filters import ResourceFilter, parse_filter
from resources.parsing import ResourcePatch, parse_patch

ALL_KEY = "all"


@dataclass(frozen=True)
class BulkOptions:
    dry_run: bool = False
    limit: int | None = None
    soft_delete: bool = False
    webhook: WebhookOption | None = None


@dataclass(frozen=True)
class BulkUpdateRequest:
    filter_raw: dict[str, Any]  # as validated; chunk payloads carry it to the workers
    spec: ResourceFilter
    update_raw: dict[str, Any]
    patch: ResourcePatch
    options: BulkOptions


@dataclass(frozen=True)
class BulkDeleteRequest:
    filter_raw: dict[str, Any]
    spec: ResourceFilter
    options: BulkOptions


def _object(body: Any, name: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise field_error(name, "Must be a JSON object")
    return body


def parse_bulk_filter(raw: Any) -> tuple[dict[str, Any], ResourceFilter]:
    """Validate a bulk filter. An empty filter matches the whole tenant, so it needs an
    explicit `"all": true`."""
    if raw is None:
        raise field_error("filter", "filter is required")
    raw = _object(raw, "filter")
    spec = parse_filter(raw, allowed_extra=(ALL_KEY,))
    # `all` exists to say "every resource" on purpose; false or null would only blur that
    # (and the OpenAPI document has said `true` only from the start).
    if ALL_KEY in raw and raw[ALL_KEY] is not True:
        raise field_error("filter.all", "Must be true; leave it out to filter by the others")
    if spec.is_empty and raw.get(ALL_KEY) is not True:
        raise ValidationError(
            'An empty filter matches every resource; send "all": true to mean that',
            details=[field_detail("filter", 'Empty filter without "all": true')],
        )
    return raw, spec


def parse_options(raw: Any, *, allowed: tuple[str, ...]) -> BulkOptions:
    options = _object({} if raw is None else raw, "options")
    problems = [
        field_detail(f"options.{key}", "Unknown option") for key in options if key not in allowed
    ]
    for key in ("dry_run", "soft_delete"):
        if key in options and not isinstance(options[key], bool):
            problems.append(field_detail(f"options.{key}", "Must be true or false"))
    limit = options.get("limit")
    if limit is not None:
        try:  # LIMIT is a bigint in SQL: a bigger number was a 500
            bounded_int(limit, field="options.limit")
        except ValidationError as error:
            problems.extend(error.details)
    if problems:
        raise ValidationError("Invalid options", details=problems)
    webhook = None
    if options.get("webhook") is not None:
        # Only a run that becomes a job notifies; checked up front all the same.
        webhook = parse_webhook_option(options["webhook"], field="options.webhook")
    return BulkOptions(
        dry_run=options.get("dry_run", False),
        limit=limit,
        soft_delete=options.get("soft_delete", False),
        webhook=webhook,
    )


def _check_keys(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = [key for key in body if key not in allowed]
    if unknown:
        raise field_errors([field_detail(key, "Unknown field") for key in unknown])


def parse_bulk_update(body: Any) -> BulkUpdateRequest:
    body = _object(body, "body")
    _check_keys(body, ("filter", "update", "options"))
    filter_raw, spec = parse_bulk_filter(body.get("filter"))
    update = body.get("update")
    if update is None:
        raise field_error("update", "update is required")
    try:
        patch = parse_patch(update)
    except ValidationError as exc:
        # Report the fields where they are in this body: update.status, not status.
        for detail in exc.details:
            detail["field"] = f"update.{detail['field']}"
        raise
    update_raw = patch.model_dump(mode="json", exclude_unset=True)
    if not update_raw:
        raise field_error("update", "update must change at least one field")
    options = parse_options(body.get("options"), allowed=("dry_run", "limit", "webhook"))
    return BulkUpdateRequest(filter_raw, spec, update_raw, patch, options)


def parse_bulk_delete(body: Any) -> BulkDeleteRequest:
    body = _object(body, "body")
    _check_keys(body, ("filter", "options"))
    filter_raw, spec = parse_bulk_filter(body.get("filter"))
    options = parse_options(
        body.get("options"), allowed=("dry_run", "limit", "soft_delete", "webhook")
    )
    return BulkDeleteRequest(filter_raw, spec, options)
