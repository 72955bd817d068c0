"""Exceptions: the contract's error shape `{"error": {"code", "message", "details"}}`
raised as typed exceptions, one class per code family."""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcf_client.models import JobState


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of `details`: a field and its problem (`index` for bulk items)."""

    message: str
    field: str | None = None
    index: int | None = None
    raw: dict[str, Any] = dc_field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> ErrorDetail:
        if not isinstance(data, dict):
            return cls(message=str(data))
        index = data.get("index")
        return cls(
            message=str(data.get("message", "")),
            field=data.get("field"),
            index=index if isinstance(index, int) else None,
            raw=data,
        )


class PcfError(Exception):
    """Base of everything this client raises."""


class TransportError(PcfError):
    """The server could not be reached (or the connection broke) and retries ran out."""


class WaitTimeout(PcfError):
    """A job did not finish within the time given to `wait()` / `watch()`."""


class ApiError(PcfError):
    """An answer in the contract's error shape (or a non-2xx answer of a proxy)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[ErrorDetail] | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.retry_after = retry_after


class ValidationError(ApiError):
    """400 VALIDATION_ERROR: the request itself is wrong; retrying cannot help."""


class Unauthenticated(ApiError):
    """401: no token or a wrong one."""


class NotFound(ApiError):
    """404 (also for another tenant's ids, by design)."""


class MethodNotAllowed(ApiError):
    """405."""


class Conflict(ApiError):
    """409 CONFLICT (a taken id; cancelling a finished job)."""


class PayloadTooLarge(ApiError):
    """413: PAYLOAD_TOO_LARGE, BATCH_TOO_LARGE or RESPONSE_TOO_LARGE."""


class UnsupportedMediaType(ApiError):
    """415."""


class IdempotencyKeyReused(ApiError):
    """422: the same Idempotency-Key was sent with another request."""


class RateLimited(ApiError):
    """429 RATE_LIMITED; `retry_after` says how long the server asked to wait."""


class ServerError(ApiError):
    """5xx: INTERNAL, TIMEOUT, or a proxy's 502/503/504."""


class JobFailed(PcfError):
    """A job ended `failed` or `cancelled` and the caller asked for an exception."""

    def __init__(self, job: JobState) -> None:
        message = job.message or f"job {job.id} ended {job.status}"
        super().__init__(message)
        self.job = job


_BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationError,
    401: Unauthenticated,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: IdempotencyKeyReused,
    429: RateLimited,
}


def error_class(status: int) -> type[ApiError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (the delta form; the date form is rare
    enough from APIs that it is ignored rather than guessed)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def error_from_body(
    status: int, body: bytes, *, retry_after: str | None = None, reason: str = ""
) -> ApiError:
    """The typed exception for a non-2xx answer. Bodies that are not in the contract
    shape (a proxy's HTML 503, uvicorn's plain "Service Unavailable") still give a
    usable code (`HTTP_<status>`) and the start of the text as the message."""
    code, message, details = f"HTTP_{status}", reason or f"HTTP {status}", []
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
        raw_details = error.get("details") or []
        if isinstance(raw_details, list):
            details = [ErrorDetail.from_dict(d) for d in raw_details]
    elif body:
        text = body[:200].decode("utf-8", "replace").strip()
        if text:
            message = text
    return error_class(status)(
        status, code, message, details, retry_after=parse_retry_after(retry_after)
    )


def error_from_result(status: int, error: Any) -> ApiError:
    """The exception a failed batch operation would have raised as a single request."""
    error = error if isinstance(error, dict) else {}
    raw_details = error.get("details") or []
    details = (
        [ErrorDetail.from_dict(d) for d in raw_details] if isinstance(raw_details, list) else []
    )
    return error_class(status)(
        status,
        str(error.get("code") or f"HTTP_{status}"),
        str(error.get("message") or ""),
        details,
    )
