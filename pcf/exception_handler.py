"""The DRF exception handler: every error of every DRF view leaves through here."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

from pcf.errors import as_pcf_error


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    error = as_pcf_error(exc)
    return Response(error.as_dict(), status=error.http_status, headers=error.headers)
