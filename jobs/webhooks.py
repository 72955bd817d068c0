"""Job webhooks: the signed payload and one HTTP attempt (the caller's option is
parsed by jobs/parsing.py).

Payload and signature follow API.md: `X-PCF-Signature: t=<unix>,v1=<hex HMAC-SHA256
of "<t>.<body>">` under the tenant's webhook secret, plus a stable `X-PCF-Delivery-ID`.
What to send and when to retry lives in the outbox (jobs/engine/outbox.py)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.utils import timezone

from jobs import netguard
from jobs.models import Job
from jobs.parsing import EVENTS
from jobs.representation import job_summary
from pcf.timefmt import iso_z

logger = logging.getLogger("pcf.webhooks")


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


def payload_body(job: Job) -> str:
    """The payload as sent: compact JSON, fixed when the job settles."""
    return json.dumps(payload_for(job), separators=(",", ":"))


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def may_retry(self) -> bool:
        """Network errors and 5xx/408/429 may pass later; a refused target, other 3xx
        and 4xx will not."""
        if self.succeeded or self.error.startswith("refused:"):
            return False
        code = self.status_code
        return code is None or code >= 500 or code in (408, 429)


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


async def _resolve(url: str) -> tuple[str, str, dict[str, Any]]:
    """_pinned_request on a thread of its own, so the deadline covers DNS too; a thread
    still resolving when the deadline passes is left behind, not waited for."""
    executor = ThreadPoolExecutor(max_workers=1)
    try:
        return await asyncio.get_running_loop().run_in_executor(executor, _pinned_request, url)
    finally:
        executor.shutdown(wait=False)


async def _post(
    url: str, body: bytes, headers: httpx.Headers, max_answer: int, deadline: float
) -> int:
    """POST on a connection of its own (never a pooled keep-alive one the receiver may
    have closed meanwhile), read at most `max_answer` bytes of the answer, close."""
    target, host_header, extensions = await _resolve(url)
    headers["Host"] = host_header
    # No redirects: a 3xx could point anywhere, past the SSRF check.
    async with (
        # Per phase as well; the caller's deadline bounds the whole attempt.
        httpx.AsyncClient(timeout=httpx.Timeout(deadline), follow_redirects=False) as client,
        client.stream(
            "POST", target, content=body, headers=headers, extensions=extensions
        ) as response,
    ):
        read = 0
        async for part in response.aiter_raw():
            read += len(part)
            if read >= max_answer:
                break
        return response.status_code


def post(
    *, url: str, body: str, secret: str, delivery_id: str, extra: dict[str, str]
) -> AttemptResult:
    """One signed POST with a total wall-clock deadline of PCF_WEBHOOK_TIMEOUT_SECONDS
    (connect, send and answer together: a receiver that trickles its answer is cut
    off), reading at most PCF_WEBHOOK_MAX_ANSWER_BYTES of the answer."""
    data = body.encode()
    headers = httpx.Headers(extra)
    headers["Content-Type"] = "application/json"
    headers["User-Agent"] = "PCF-Webhooks/1"
    headers["Connection"] = "close"
    headers["X-PCF-Delivery-ID"] = delivery_id
    headers["X-PCF-Signature"] = sign(secret, int(time.time()), data)
    deadline = float(settings.PCF_WEBHOOK_TIMEOUT_SECONDS)
    max_answer = int(settings.PCF_WEBHOOK_MAX_ANSWER_BYTES)

    async def attempt() -> int:
        async with asyncio.timeout(deadline):
            return await _post(url, data, headers, max_answer, deadline)

    status_code: int | None = None
    error = ""
    started = time.monotonic()
    try:
        status_code = asyncio.run(attempt())
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except netguard.TargetRefused as exc:
        error = f"refused: {exc}"
    except TimeoutError:
        error = f"timed out after {deadline:g}s"
    except (httpx.HTTPError, OSError, UnicodeError) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration_ms = int((time.monotonic() - started) * 1000)
    return AttemptResult(status_code=status_code, error=error, duration_ms=duration_ms)
