"""Per-tenant request rate limit (429 `RATE_LIMITED` with `Retry-After`)."""

from __future__ import annotations

import logging
import math
from typing import Any

import redis
from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from pcf.exceptions import RateLimited
from pcf.models import ApiClient

logger = logging.getLogger("pcf.throttling")


class TenantRateThrottle(SimpleRateThrottle):
    """Counts every REST call of a tenant in Redis (shared by all web processes).

    The rate is read per request (`PCF_RATE_LIMIT`, e.g. "300/s"; empty turns it off).
    A Redis outage lets requests through rather than failing the API."""

    scope = "tenant"

    def get_rate(self) -> str | None:
        return str(settings.PCF_RATE_LIMIT) or None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        client = request.user
        if not isinstance(client, ApiClient):
            return None
        # The token digest, not the row id: ids restart with a fresh database.
        return f"pcf:throttle:{client.token_hash[:24]}"

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except (redis.RedisError, OSError):
            logger.warning("rate limit skipped: Redis unavailable")
            return True


class _ClientOnly:
    """What TenantRateThrottle reads of a request: its authenticated client."""

    def __init__(self, client: ApiClient) -> None:
        self.user = client


def tenant_throttle(client: ApiClient) -> None:
    """Count one request of `client` against PCF_RATE_LIMIT, for views outside DRF (the
    GraphQL endpoint), in the same Redis counter as the REST endpoints.

    Raises RateLimited (with Retry-After) when the tenant is over its rate."""
    throttle = TenantRateThrottle()
    if not throttle.allow_request(_ClientOnly(client), None):  # type: ignore[arg-type]
        wait = throttle.wait() or 1
        raise RateLimited(headers={"Retry-After": str(max(1, math.ceil(wait)))})
