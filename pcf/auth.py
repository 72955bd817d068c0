"""Bearer-token authentication: the token names the tenant for every /v1 call.

A request is authenticated once: the ASGI body guard (pcf.bodyguard) resolves the
token before Django reads the body and leaves the client in the ASGI scope; every
later step (gzip inflation, idempotency, DRF) reuses it through `request_client`."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from pcf.exceptions import Unauthenticated
from pcf.models import ApiClient, hash_token

# The ASGI scope key under which pcf.bodyguard leaves the authenticated client.
SCOPE_CLIENT = "pcf.api_client"
_CACHED = "_pcf_api_client"


def client_from_header(header: str | None) -> ApiClient:
    """Return the active client for an `Authorization` header, or raise Unauthenticated."""
    if not header:
        raise Unauthenticated()
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Authorization must be 'Bearer <token>'")
    try:
        return ApiClient.objects.get(token_hash=hash_token(token), is_active=True)
    except ApiClient.DoesNotExist:
        raise Unauthenticated("Invalid token") from None


async def aclient_from_header(header: str | None) -> ApiClient:
    return await sync_to_async(client_from_header)(header)


def request_client(request: HttpRequest) -> ApiClient:
    """The request's client, looked up at most once per request (raises Unauthenticated)."""
    cached = getattr(request, _CACHED, None)
    if isinstance(cached, ApiClient):
        return cached
    scope: dict[str, Any] | None = getattr(request, "scope", None)
    client = scope.get(SCOPE_CLIENT) if scope else None
    if not isinstance(client, ApiClient):
        client = client_from_header(request.META.get("HTTP_AUTHORIZATION"))
    setattr(request, _CACHED, client)
    return client


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiClient, str] | None:
        return request_client(request._request), "bearer"

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="pcf"'


class IsApiClient(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not isinstance(request.user, ApiClient):
            raise Unauthenticated()
        return True


def tenant_of(request: Request) -> ApiClient:
    user = request.user
    if not isinstance(user, ApiClient):
        raise Unauthenticated()
    return user
