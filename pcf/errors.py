"""Turning any exception into the contract's error shape, for DRF and plain views alike."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf

from pcf.exceptions import (
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PcfError,
    RateLimited,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationError,
    field_detail,
)

logger = logging.getLogger("pcf.errors")


def _drf_details(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested error detail into [{"field", "message"}]."""
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                name = prefix
            out.extend(_drf_details(value, name))
        return out
    if isinstance(detail, list):
        out = []
        for item in detail:
            out.extend(_drf_details(item, prefix))
        return out
    return [field_detail(prefix, str(detail))]


def as_pcf_error(exc: BaseException) -> PcfError:
    """Map any exception to a PcfError; unexpected ones become INTERNAL (logged, no trace)."""
    if isinstance(exc, PcfError):
        return exc
    if isinstance(exc, Http404):
        return NotFound()
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge("Request body is larger than this endpoint accepts")
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return Unauthenticated(str(exc.detail) if exc.detail else None)
    if isinstance(exc, drf.NotFound):
        return NotFound()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed(str(exc.detail))
    if isinstance(exc, drf.UnsupportedMediaType):
        return UnsupportedMediaType(str(exc.detail))
    if isinstance(exc, drf.ParseError):
        return ValidationError(f"Malformed request body: {exc.detail}")
    if isinstance(exc, drf.Throttled):
        return RateLimited(headers={"Retry-After": str(int(getattr(exc, "wait", None) or 1))})
    if isinstance(exc, drf.ValidationError):
        return ValidationError(details=_drf_details(exc.detail))
    if isinstance(exc, drf.PermissionDenied):
        # Tenancy answers 404, never 403; a permission failure means no valid client.
        return Unauthenticated()
    if isinstance(exc, drf.APIException) and exc.status_code == 413:
        return PayloadTooLarge(str(exc.detail))
    return internal_error(exc)


def new_reference() -> str:
    return uuid.uuid4().hex[:16]


def internal_error(exc: BaseException | None, *, context: str = "unhandled error") -> PcfError:
    """An INTERNAL error that shows the client only a reference id; the log line with
    the exception (driver text, hosts, trace) carries the same id. Its message is also
    what a tenant may read where a failure is recorded (a job's or chunk's message)."""
    reference = new_reference()
    logger.error("%s [reference %s]", context, reference, exc_info=exc)
    return PcfError(f"Internal error (reference {reference})")


def error_response(error: PcfError) -> JsonResponse:
    # Compact, like DRF's renderer: every error looks the same byte for byte.
    response = JsonResponse(
        error.as_dict(), status=error.http_status, json_dumps_params={"separators": (",", ":")}
    )
    for name, value in error.headers.items():
        response[name] = value
    return response
