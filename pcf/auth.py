"""Bearer-token authentication: the token names the tenant for every /v1 call."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from pcf.exceptions import Unauthenticated
from pcf.models import ApiClient, hash_token


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


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiClient, str] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        client = client_from_header(header)
        return client, "bearer"

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
