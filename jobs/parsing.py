"""Requests to the job engine, parsed: the `webhook` option every job-starting endpoint
takes (imports, bulk, async batches) and the query of the job endpoints.

Each parser checks raw request data once and returns a frozen value, or raises the
contract's VALIDATION_ERROR naming the field at fault."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from jobs import netguard
from pcf.exceptions import field_error

EVENTS = ("completed", "failed", "cancelled")
# Set by PCF on every delivery; a caller's header never replaces them.
RESERVED_HEADERS = frozenset(
    {
        "host", "content-length", "content-type", "x-pcf-signature", "x-pcf-delivery-id",
        "transfer-encoding", "connection",
    }
)  # fmt: skip
# RFC 9110 field names: tokens.
HEADER_NAME_PATTERN = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"
# RFC 9110 field values: no control characters but tab. U+0000 also cannot be stored
# (Job.webhook is jsonb), and CR/LF would split the header.
HEADER_VALUE_PATTERN = "^[^\\x00-\\x08\\x0a-\\x1f\\x7f]*$"
# A URL holds no spaces or control characters (and jsonb no U+0000).
URL_PATTERN = "^https?://[^\\x00-\\x20\\x7f]+$"
# "completed", or with a prefix such as "batch.completed"; the prefix is ignored.
EVENT_PATTERN = f"^([^\\x00]*\\.)?({'|'.join(EVENTS)})$"
MAX_URL_LENGTH = 2048
MAX_HEADERS = 20
_HEADER_NAME = re.compile(HEADER_NAME_PATTERN)
_URL = re.compile(URL_PATTERN)
_HEADER_VALUE = re.compile(HEADER_VALUE_PATTERN)
_EVENT = re.compile(EVENT_PATTERN)

ErrorsFormat = Literal["json", "csv"]


@dataclass(frozen=True)
class WebhookOption:
    """A checked `webhook` option: where to send, which events, the caller's headers."""

    url: str
    events: tuple[str, ...] = EVENTS
    headers: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """As stored on the job (Job.webhook) and read by the outbox."""
        return {"url": self.url, "events": list(self.events), "headers": dict(self.headers)}


def _parse_url(raw: Any, field: str) -> str:
    if not isinstance(raw, str) or len(raw) > MAX_URL_LENGTH or not _URL.fullmatch(raw):
        raise field_error(field, "must be an http(s) URL")
    url = raw
    parts = urlsplit(url)
    if not parts.hostname:
        raise field_error(field, "must be an http(s) URL")
    if parts.username or parts.password:
        raise field_error(field, "must not carry credentials; use headers")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise field_error(field, "has an invalid port") from None
    try:
        netguard.check_host_at_creation(parts.hostname, port)
    except netguard.TargetRefused as exc:
        raise field_error(
            field, f"private, loopback and link-local targets are refused ({exc})"
        ) from None
    return url


def _parse_events(raw: Any, field: str) -> list[str]:
    if raw is None:
        return list(EVENTS)
    if not isinstance(raw, list) or not raw:
        raise field_error(field, f"must be a non-empty list of {', '.join(EVENTS)}")
    events: list[str] = []
    for item in raw:
        # "batch.completed" and "completed" both name the completed event.
        name = item.rpartition(".")[2] if isinstance(item, str) and _EVENT.fullmatch(item) else None
        if name not in EVENTS:
            raise field_error(field, f"unknown event {item!r}; use {', '.join(EVENTS)}")
        if name not in events:
            events.append(name)
    return events


def _parse_headers(raw: Any, field: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > MAX_HEADERS:
        raise field_error(field, f"must be an object of at most {MAX_HEADERS} string headers")
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if (
            not _HEADER_NAME.fullmatch(name)
            or not isinstance(value, str)
            or not _HEADER_VALUE.fullmatch(value)
        ):
            raise field_error(f"{field}.{name}", "must be a valid header name with a string value")
        if name.lower() in RESERVED_HEADERS:
            raise field_error(f"{field}.{name}", "is set by PCF and cannot be overridden")
        headers[name] = value
    return headers


def parse_webhook_option(raw: Any, *, field: str = "webhook") -> WebhookOption | None:
    """Validate `{url, events, headers}` or a bare URL string (bulk's
    notification_webhook); return the option, or None when absent.
    Raises ValidationError, also for private/loopback/link-local targets."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return WebhookOption(url=_parse_url(raw, field))
    if not isinstance(raw, dict):
        raise field_error(field, "must be a URL or an object {url, events, headers}")
    unknown = sorted(set(raw) - {"url", "events", "headers"})
    if unknown:
        raise field_error(f"{field}.{unknown[0]}", "unknown key")
    return WebhookOption(
        url=_parse_url(raw.get("url"), f"{field}.url"),
        events=tuple(_parse_events(raw.get("events"), f"{field}.events")),
        headers=_parse_headers(raw.get("headers"), f"{field}.headers"),
    )


def parse_errors_format(raw: str | None) -> ErrorsFormat:
    """`?format=` of GET /v1/jobs/{id}/errors: JSON pages (the default) or one CSV file."""
    if raw is None or raw == "json":
        return "json"
    if raw == "csv":
        return "csv"
    raise field_error("format", "Must be json or csv")
