"""Import requests, parsed: the `options` of a CSV upload (form part or query string)
and the body of a JSON bulk import, validated once into frozen dataclasses.

The options end up in `Job.options` (JSON), so workers read the same values the web
checked. The CSV file itself is read by imports/upload_stream.py and imports/csv_stream.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings

from jobs.parsing import WebhookOption, parse_webhook_option
from pcf.exceptions import BatchTooLarge, ValidationError, field_detail, field_error, field_errors
from pcf.jsondepth import loads as json_loads

# Resource fields an import can fill; `id` only makes sense for client-given ids.
IMPORT_FIELDS = ("id", "name", "type", "status", "metadata")
UPSERT_KEYS = ("name", "id")
VALIDATION_MODES = ("strict", "lenient")
# Options that may also come one by one in the query string (raw text/csv uploads).
QUERY_OPTIONS = (
    "mapping",
    "validation",
    "dry_run",
    "chunk_size",
    "upsert",
    "upsert_key",
)


@dataclass(frozen=True)
class ColumnMap:
    """One mapped resource field: which CSV column feeds it, and whether the cell is JSON."""

    field: str
    column: str
    json: bool


@dataclass(frozen=True)
class CsvImportOptions:
    # Empty: no mapping was given, so each field reads the column of its own name.
    mapping: tuple[ColumnMap, ...]
    validation: str = "strict"
    dry_run: bool = False
    chunk_size: int = 1000
    upsert: bool = False
    upsert_key: str = "name"
    webhook: WebhookOption | None = None

    @property
    def strict(self) -> bool:
        return self.validation == "strict"

    def as_job_options(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("webhook")
        data["mapping"] = [asdict(m) for m in self.mapping]
        return data

    @classmethod
    def from_job_options(cls, data: dict[str, Any]) -> CsvImportOptions:
        values = dict(data)
        values["mapping"] = tuple(ColumnMap(**m) for m in values["mapping"])
        values.pop("webhook", None)
        return cls(**values)


@dataclass(frozen=True)
class BulkImportOptions:
    upsert: bool = False
    upsert_key: str = "name"
    validate_before_import: bool = False
    chunk_size: int = 1000
    webhook: WebhookOption | None = field(default=None)

    def as_job_options(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("webhook")
        return data


@dataclass(frozen=True)
class BulkImportRequest:
    """POST /v1/bulk/resources: the items (not yet checked one by one) and the options."""

    items: tuple[Any, ...]
    options: BulkImportOptions


def _problem(field_name: str, message: str) -> dict[str, Any]:
    return field_detail(f"options.{field_name}", message)


def _bool(raw: dict[str, Any], name: str, default: bool, problems: list[dict[str, Any]]) -> bool:
    value = raw.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    # Query-string options arrive as text.
    if isinstance(value, str) and value.lower() in {"true", "1", "false", "0"}:
        return value.lower() in {"true", "1"}
    problems.append(_problem(name, "Must be true or false"))
    return default


def _chunk_size(raw: dict[str, Any], problems: list[dict[str, Any]]) -> int:
    value = raw.get("chunk_size", settings.PCF_IMPORT_CHUNK_SIZE_DEFAULT)
    if value is None:
        return int(settings.PCF_IMPORT_CHUNK_SIZE_DEFAULT)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    top = int(settings.PCF_IMPORT_CHUNK_SIZE_MAX)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        problems.append(_problem("chunk_size", f"Must be an integer from 1 to {top}"))
        return int(settings.PCF_IMPORT_CHUNK_SIZE_DEFAULT)
    return value


def _upsert_key(raw: dict[str, Any], problems: list[dict[str, Any]]) -> str:
    value = raw.get("upsert_key", "name")
    if value is None:
        return "name"
    if value not in UPSERT_KEYS:
        problems.append(_problem("upsert_key", "Must be 'name' or 'id'"))
        return "name"
    return str(value)


def _webhook(raw: Any, name: str, problems: list[dict[str, Any]]) -> WebhookOption | None:
    if raw is None:
        return None
    try:
        return parse_webhook_option(raw, field=f"options.{name}")
    except ValidationError as exc:
        problems.extend(exc.details or [field_detail(f"options.{name}", exc.message)])
        return None


def _mapping(raw: Any, problems: list[dict[str, Any]]) -> tuple[ColumnMap, ...]:
    if raw is None:
        # No mapping: every import field reads the column of its own name (see bind_mapping).
        return ()
    if not isinstance(raw, dict) or not raw:
        problems.append(_problem("mapping", "Must be an object of field -> column"))
        return ()
    columns: list[ColumnMap] = []
    for name, target in raw.items():
        if name not in IMPORT_FIELDS:
            allowed = ", ".join(IMPORT_FIELDS)
            problems.append(
                _problem(f"mapping.{name}", f"Unknown field; expected one of: {allowed}")
            )
        elif isinstance(target, str) and target:
            # metadata is always a JSON object, whichever way it is mapped.
            columns.append(ColumnMap(field=name, column=target, json=name == "metadata"))
        elif (
            isinstance(target, dict)
            and target.get("type") == "json"
            and isinstance(target.get("field"), str)
            and target["field"]
            and set(target) <= {"type", "field"}
        ):
            columns.append(ColumnMap(field=name, column=target["field"], json=True))
        else:
            problems.append(
                _problem(
                    f"mapping.{name}",
                    'Must be a column name or {"type": "json", "field": "<column>"}',
                )
            )
    mapped = {c.field for c in columns}
    for required in ("name", "type"):
        if required not in mapped and not any(
            p["field"] == f"options.mapping.{required}" for p in problems
        ):
            problems.append(_problem(f"mapping.{required}", f"The {required} field must be mapped"))
    return tuple(columns)


def _decode(raw: Any) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json_loads(raw, field="options")
        except json.JSONDecodeError as exc:
            raise field_error("options", f"Not valid JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise field_error("options", "Must be a JSON object")
    return raw


def parse_csv_options(raw: Any) -> CsvImportOptions:
    """Validate a CSV import's options (a JSON string or an object); raise VALIDATION_ERROR
    listing every problem at once."""
    data = _decode(raw)
    problems: list[dict[str, Any]] = []
    known = {"mapping", "validation", "dry_run", "chunk_size", "upsert", "upsert_key", "webhook"}
    problems.extend(_problem(k, "Unknown option") for k in data if k not in known)
    validation = data.get("validation", "strict") or "strict"
    if validation not in VALIDATION_MODES:
        problems.append(_problem("validation", "Must be 'strict' or 'lenient'"))
    options = CsvImportOptions(
        mapping=_mapping(data.get("mapping"), problems),
        validation=validation if validation in VALIDATION_MODES else "strict",
        dry_run=_bool(data, "dry_run", False, problems),
        chunk_size=_chunk_size(data, problems),
        upsert=_bool(data, "upsert", False, problems),
        upsert_key=_upsert_key(data, problems),
        webhook=_webhook(data.get("webhook"), "webhook", problems),
    )
    mapped = {m.field for m in options.mapping}
    if options.upsert and options.upsert_key == "id" and options.mapping and "id" not in mapped:
        problems.append(_problem("mapping.id", "upsert_key 'id' needs the id field mapped"))
    if problems:
        raise ValidationError("Invalid import options", details=problems)
    return options


def parse_bulk_options(raw: Any) -> BulkImportOptions:
    data = _decode(raw)
    problems: list[dict[str, Any]] = []
    known = {
        "upsert",
        "upsert_key",
        "validate_before_import",
        "notification_webhook",
        "webhook",
        "chunk_size",
    }
    problems.extend(_problem(k, "Unknown option") for k in data if k not in known)
    # The cookbook's bare-URL form; `webhook` wins when both are given, and both are
    # checked either way, so a bad one is never stored or ignored silently.
    webhook = _webhook(data.get("webhook"), "webhook", problems)
    notification = _webhook(data.get("notification_webhook"), "notification_webhook", problems)
    webhook = webhook or notification
    options = BulkImportOptions(
        upsert=_bool(data, "upsert", False, problems),
        upsert_key=_upsert_key(data, problems),
        validate_before_import=_bool(data, "validate_before_import", False, problems),
        chunk_size=_chunk_size(data, problems),
        webhook=webhook,
    )
    if problems:
        raise ValidationError("Invalid import options", details=problems)
    return options


def _webhook_in_query() -> ValidationError:
    # A webhook's URL and headers are secrets (tokens, signatures): query strings end up
    # in access logs, proxies and browser history.
    return field_error(
        "options.webhook",
        "Send the webhook in the request body (the multipart options part), never in the "
        "query string",
    )


def csv_query_options(params: Mapping[str, str]) -> Any:
    """A CSV upload's options from the query string: `?options=<json>`, or the options as
    separate parameters (`mapping` as JSON); None when the query string has none. The
    raw options go through parse_csv_options once the upload says where options come
    from. A webhook there is a 400 (_webhook_in_query)."""
    if "webhook" in params:
        raise _webhook_in_query()
    if "options" in params:
        try:
            decoded = json_loads(params["options"], field="options")
        except json.JSONDecodeError:
            return params["options"]  # parse_csv_options reports it
        if isinstance(decoded, dict) and "webhook" in decoded:
            raise _webhook_in_query()
        return decoded
    given: dict[str, Any] = {k: params[k] for k in QUERY_OPTIONS if k in params}
    if not given:
        return None
    for key in ("mapping",):
        if key in given and given[key].lstrip().startswith("{"):
            try:
                given[key] = json_loads(given[key], field=f"options.{key}")
            except json.JSONDecodeError:
                raise field_error(f"options.{key}", "Not valid JSON") from None
    return given


def parse_bulk_import(body: Any) -> BulkImportRequest:
    """The bulk import body `{"resources": [...], "options": {...}}`: a 400 for the
    envelope, 413 past PCF_BULK_MAX_ITEMS, then the options (parse_bulk_options)."""
    if not isinstance(body, dict):
        raise ValidationError("The body must be a JSON object")
    unknown = sorted(set(body) - {"resources", "options"})
    if unknown:
        raise field_errors([field_detail(k, "Unknown field") for k in unknown])
    items = body.get("resources")
    if not isinstance(items, list):
        raise field_error("resources", "Must be a list")
    if not items:
        raise field_error("resources", "Must not be empty")
    limit = int(settings.PCF_BULK_MAX_ITEMS)
    if len(items) > limit:
        raise BatchTooLarge(f"{len(items)} resources; at most {limit} per bulk import")
    return BulkImportRequest(items=tuple(items), options=parse_bulk_options(body.get("options")))
