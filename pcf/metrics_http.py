"""`GET /metrics` (Prometheus text format) and the HTTP request metrics.

Who may scrape: with PCF_METRICS_TOKEN set, only a request carrying it as a bearer token
(compared in constant time); without it, only a client on the loopback interface (a
Prometheus agent or sidecar on the same host, or `curl` on the box). Anyone else gets
the contract's 401: job counts and route names are not for the internet."""

from __future__ import annotations

import hmac
import ipaddress
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pcf import metrics
from pcf.errors import error_response
from pcf.exceptions import Unauthenticated
from pcf.middleware import DualModeMiddleware

# Requests no URL pattern matched: one label value, whatever the path (bounded).
UNMATCHED = "unmatched"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def scrape_allowed(request: HttpRequest) -> bool:
    """True when the request may read the metrics (see the module docstring)."""
    token = str(settings.PCF_METRICS_TOKEN)
    if not token:
        return _is_loopback(str(request.META.get("REMOTE_ADDR", "")))
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(offered.strip().encode(), token.encode())


def metrics_view(request: HttpRequest) -> HttpResponseBase:
    if not scrape_allowed(request):
        return error_response(
            Unauthenticated("Metrics need the bearer token of PCF_METRICS_TOKEN (or loopback)")
        )
    body = generate_latest(metrics.scrape_registry())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def route_of(request: HttpRequest) -> str:
    """The matched URL pattern's name (`job-detail`, `admin:jobs_job_changelist`), or
    its route template when it has none; never the raw path: the label's values are
    bounded by the URLconf."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return str(match.view_name or match.route or UNMATCHED)


def _observe(request: HttpRequest, response: HttpResponseBase, started: float) -> None:
    route = route_of(request)
    metrics.HTTP_REQUESTS.labels(route=route, status=str(response.status_code)).inc()
    metrics.HTTP_DURATION.labels(route=route).observe(time.perf_counter() - started)


class HttpMetricsMiddleware(DualModeMiddleware):
    """Counts and times every answer by route and status (sync and async: the SSE
    stream is an async view)."""

    def handle(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response: HttpResponseBase = self.get_response(request)
        _observe(request, response, started)
        return response

    async def ahandle(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response: HttpResponseBase = await self.get_response(request)
        _observe(request, response, started)
        return response


__all__ = ["HttpMetricsMiddleware", "metrics_view", "route_of", "scrape_allowed"]
