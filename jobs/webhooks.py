"""Job webhooks: the caller's option, the signed payload, and one delivery attempt.

Payload and signature follow API.md: `X-PCF-Signature: t=<unix>,v1=<hex HMAC-SHA256
of "<t>.<body>">` under the tenant's webhook secret. Each attempt is one
WebhookDelivery row; the task (jobs.tasks.deliver_webhook) schedules retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.utils import timezone

from jobs import netguard
from jobs.models import Job, WebhookDelivery
from jobs.representation import job_summary
from pcf.exceptions import ValidationError
from pcf.timefmt import iso_z

logger = logging.getLogger("pcf.webhooks")

EVENTS = ("completed", "failed", "cancelled")
# Set by PCF on every delivery; a caller's header never replaces them.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "x-pcf-signature", "transfer-encoding"}
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_MAX_URL = 2048
_MAX_HEADERS = 20


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(details=[{"field": field, "message": message}])


def _parse_url(raw: Any, field: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise _invalid(field, "must be an http(s) URL")
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > _MAX_URL:
        raise _invalid(field, "must be an http(s) URL")
    if parts.username or parts.password:
        raise _invalid(field, "must not carry credentials; use headers")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _invalid(field, "has an invalid port") from None
    try:
        netguard.check_host_at_creation(parts.hostname, port)
    except netguard.TargetRefused as exc:
        raise _invalid(
            field, f"private, loopback and link-local targets are refused ({exc})"
        ) from None
    return url


def _parse_events(raw: Any, field: str) -> list[str]:
    if raw is None:
        return list(EVENTS)
    if not isinstance(raw, list) or not raw:
        raise _invalid(field, f"must be a non-empty list of {', '.join(EVENTS)}")
    events: list[str] = []
    for item in raw:
        # "batch.completed" and "completed" both name the completed event.
        name = item.rpartition(".")[2] if isinstance(item, str) else None
        if name not in EVENTS:
            raise _invalid(field, f"unknown event {item!r}; use {', '.join(EVENTS)}")
        if name not in events:
            events.append(name)
    return events


def _parse_headers(raw: Any, field: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > _MAX_HEADERS:
        raise _invalid(field, f"must be an object of at most {_MAX_HEADERS} string headers")
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if (
            not _HEADER_NAME.match(name)
            or not isinstance(value, str)
            or "\r" in value
            or ("\n" in value)
        ):
            raise _invalid(f"{field}.{name}", "must be a valid header name with a string value")
        if name.lower() in RESERVED_HEADERS:
            raise _invalid(f"{field}.{name}", "is set by PCF and cannot be overridden")
        headers[name] = value
    return headers


def parse_webhook_option(raw: Any, *, field: str = "webhook") -> dict[str, Any] | None:
    """Validate `{url, events, headers}` or a bare URL string (bulk's
    notification_webhook); return the normalised option, or None when absent.
    Raises ValidationError, also for private/loopback/link-local targets."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return {"url": _parse_url(raw, field), "events": list(EVENTS), "headers": {}}
    if not isinstance(raw, dict):
        raise _invalid(field, "must be a URL or an object {url, events, headers}")
    unknown = sorted(set(raw) - {"url", "events", "headers"})
    if unknown:
        raise _invalid(f"{field}.{unknown[0]}", "unknown key")
    return {
        "url": _parse_url(raw.get("url"), f"{field}.url"),
        "events": _parse_events(raw.get("events"), f"{field}.events"),
        "headers": _parse_headers(raw.get("headers"), f"{field}.headers"),
    }


def event_name(job: Job) -> str:
    return f"{job.type}.{job.status}"


def wants_event(job: Job) -> bool:
    return bool(job.webhook) and job.status in (job.webhook or {}).get("events", EVENTS)


def payload_for(job: Job) -> dict[str, Any]:
    return {
        "event": event_name(job),
        "job_id": job.id,
        # Derived from the counters at send time: the settled job's final counts.
        "summary": job_summary(job) or {},
        "timestamp": iso_z(job.finished_at or timezone.now()),
    }


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def backoff_seconds(attempt: int) -> int:
    """Delay after failed attempt `attempt` (1-based): base * 2^(attempt-1), capped."""
    base = int(settings.PCF_WEBHOOK_BACKOFF_BASE_SECONDS)
    return int(min(base * 2 ** (attempt - 1), settings.PCF_WEBHOOK_BACKOFF_MAX_SECONDS))


@dataclass(frozen=True)
class AttemptOutcome:
    delivery: WebhookDelivery
    retry_in: int | None  # seconds until the next attempt, None when done


def _retryable(status_code: int | None) -> bool:
    # Network errors and 5xx/408/429 may pass later; other 3xx/4xx will not.
    return status_code is None or status_code >= 500 or status_code in (408, 429)


def _pinned_request(url: str) -> tuple[str, str, dict[str, Any]]:
    """Return (url to connect to, Host header, extensions) with the host replaced by
    an address that passed the SSRF check, so the checked address is the one used."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    ip = netguard.pick_delivery_address(host, port)
    ip_text = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = f"{ip_text}:{parts.port}" if parts.port else ip_text
    host_header = f"{host}:{parts.port}" if parts.port else host
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return pinned, host_header, extensions


def webhook_attempt(*, job: Job, event: str, attempt: int) -> AttemptOutcome:
    """POST the job's payload once and record the attempt; say if and when to retry."""
    option = job.webhook or {}
    url = option["url"]
    body = json.dumps(payload_for(job) | {"event": event}, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = httpx.Headers(option.get("headers") or {})
    headers["Content-Type"] = "application/json"
    headers["User-Agent"] = "PCF-Webhooks/1"
    headers["X-PCF-Signature"] = sign(job.tenant.webhook_secret, timestamp, body)
    status_code: int | None = None
    error = ""
    started = time.monotonic()
    try:
        target, host_header, extensions = _pinned_request(url)
        headers["Host"] = host_header
        # No redirects: a 3xx could point anywhere, past the SSRF check.
        with httpx.Client(timeout=settings.PCF_WEBHOOK_TIMEOUT_SECONDS) as client:
            response = client.post(target, content=body, headers=headers, extensions=extensions)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except netguard.TargetRefused as exc:
        error = f"refused: {exc}"
    except (httpx.HTTPError, OSError, UnicodeError) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration_ms = int((time.monotonic() - started) * 1000)
    succeeded = status_code is not None and 200 <= status_code < 300
    refused = error.startswith("refused:")
    retry_in = None
    may_retry = not succeeded and not refused and _retryable(status_code)
    if may_retry and attempt < settings.PCF_WEBHOOK_MAX_ATTEMPTS:
        retry_in = backoff_seconds(attempt)
    delivery = WebhookDelivery.objects.create(
        job=job,
        event=event,
        url=url,
        attempt=attempt,
        status_code=status_code,
        error=error,
        duration_ms=duration_ms,
        succeeded=succeeded,
        next_retry_at=timezone.now() + timedelta(seconds=retry_in) if retry_in else None,
    )
    if not succeeded:
        logger.info("webhook %s for %s attempt %s failed: %s", event, job.id, attempt, error)
    return AttemptOutcome(delivery=delivery, retry_in=retry_in)
