"""One error hierarchy for the whole API. Services raise these; only
pcf.exception_handler (and pcf.errors for non-DRF views) turns them into the
contract's `{"error": {"code", "message", "details"}}` shape."""

from __future__ import annotations

from typing import Any, ClassVar


class PcfError(Exception):
    code: ClassVar[str] = "INTERNAL"
    http_status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Internal error"

    def __init__(
        self,
        message: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or []
        self.headers = headers or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationError(PcfError):
    code = "VALIDATION_ERROR"
    http_status = 400
    default_message = "Validation failed"


class Unauthenticated(PcfError):
    code = "UNAUTHENTICATED"
    http_status = 401
    default_message = "A valid bearer token is required"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="pcf"'})


class NotFound(PcfError):
    code = "NOT_FOUND"
    http_status = 404
    default_message = "Not found"


class MethodNotAllowed(PcfError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405
    default_message = "Method not allowed"

    def __init__(
        self,
        message: str | None = None,
        details: list[dict[str, Any]] | None = None,
        *,
        allow: tuple[str, ...] = (),
    ) -> None:
        # RFC 9110: a 405 lists the methods the target supports.
        super().__init__(message, details, {"Allow": ", ".join(allow)} if allow else None)


class Conflict(PcfError):
    code = "CONFLICT"
    http_status = 409
    default_message = "Conflict"


class PayloadTooLarge(PcfError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413
    default_message = "Payload too large"


class BatchTooLarge(PcfError):
    code = "BATCH_TOO_LARGE"
    http_status = 413
    default_message = "Batch too large"


class ResponseTooLarge(PcfError):
    code = "RESPONSE_TOO_LARGE"
    http_status = 413
    default_message = "The answer would pass the response budget (PCF_RESPONSE_MAX_BYTES)"


class UnsupportedMediaType(PcfError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415
    default_message = "Unsupported media type"


class IdempotencyKeyReused(PcfError):
    code = "IDEMPOTENCY_KEY_REUSED"
    http_status = 422
    default_message = "This Idempotency-Key was used with a different request"


class RateLimited(PcfError):
    code = "RATE_LIMITED"
    http_status = 429
    default_message = "Too many requests"


class Timeout(PcfError):
    code = "TIMEOUT"
    http_status = 504
    default_message = "Timed out"


class Skipped(PcfError):
    code = "SKIPPED"
    http_status = 424
    default_message = "Not executed: an earlier operation failed"


class RolledBack(PcfError):
    code = "ROLLED_BACK"
    http_status = 424
    default_message = "Succeeded, then rolled back because the atomic batch failed"


def field_detail(field: str, message: str, *, index: int | None = None) -> dict[str, Any]:
    """One entry of a VALIDATION_ERROR's details: the field at fault and why.
    `index` names the item of a list body (bulk items, batch operations) it belongs to."""
    detail: dict[str, Any] = {} if index is None else {"index": index}
    detail["field"] = field
    detail["message"] = message
    return detail


def field_error(field: str, message: str, *, index: int | None = None) -> ValidationError:
    """The 400 for one field at fault: the one way services and parsers report bad input."""
    return ValidationError(details=[field_detail(field, message, index=index)])


def field_errors(details: list[dict[str, Any]]) -> ValidationError:
    """The 400 for several fields at fault at once, each built with `field_detail`."""
    return ValidationError(details=details)
