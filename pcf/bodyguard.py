"""The ASGI gate in front of Django: a request body costs nothing until it may be read.

Django's ASGI handler reads every body whole (into a temporary file past
FILE_UPLOAD_MAX_MEMORY_SIZE) before any middleware or view runs. So this wrapper,
for each request that carries a body:
- refuses a declared `Content-Length` over the path's cap at once (413), and counts a
  chunked body as it arrives, stopping at the cap (413), so no more than the cap is
  ever spooled;
- authenticates the bearer token of a /v1 request before a byte of the body is read:
  no valid token is a 401 at once, whatever the body (a gzip bomb included). The
  client is left in the scope (pcf.auth.SCOPE_CLIENT) so nothing looks it up again.

Requests without a body (GET, SSE) pass untouched."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from pcf.auth import SCOPE_CLIENT, client_from_header
from pcf.exceptions import PayloadTooLarge, PcfError, Unauthenticated, ValidationError
from pcf.models import ApiClient

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[..., Awaitable[None]]  # Django's ASGIHandler types its own arguments

API_PREFIX = "/v1/"
IMPORT_PREFIX = "/v1/import/"
# Multipart framing around an import's file: the body may pass the file cap by this much.
IMPORT_FRAMING_SLACK = 1024 * 1024


def body_cap(path: str) -> int:
    """The most raw (still compressed) body bytes a request to `path` may send."""
    if path.startswith(IMPORT_PREFIX):
        return int(settings.PCF_IMPORT_MAX_BYTES) + IMPORT_FRAMING_SLACK
    return int(settings.PCF_MAX_BODY_BYTES)


def needs_token(path: str) -> bool:
    return path.startswith(API_PREFIX)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def _authenticate(header: str | None) -> ApiClient:
    try:
        return client_from_header(header)
    finally:
        # A thread of the loop's executor, not a request's: hold no connection.
        connection.close()


async def _answer(send: Send, error: PcfError, *, close: bool) -> None:
    body = json.dumps(error.as_dict(), separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode("latin-1")) for k, v in error.headers.items()),
    ]
    if close:
        # The rest of the body will not be read: end the connection with this answer.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyGuard:
    """ASGI middleware applying the module's rules; wraps Django's ASGI application."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_length = _header(scope, b"content-length")
        chunked = _header(scope, b"transfer-encoding") is not None
        try:
            length = int(raw_length) if raw_length is not None else 0
        except ValueError:
            await _answer(send, ValidationError("Invalid Content-Length"), close=True)
            return
        if length <= 0 and not chunked:
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        cap = body_cap(path)
        if length > cap:
            await _answer(send, _too_large(cap), close=True)
            return
        if needs_token(path):
            raw_auth = _header(scope, b"authorization")
            header = raw_auth.decode("latin-1") if raw_auth is not None else None
            try:
                client = await sync_to_async(_authenticate, thread_sensitive=False)(header)
            except Unauthenticated as error:
                # uvicorn reads past the unread body (at most `cap`) without keeping it.
                await _answer(send, error, close=False)
                return
            scope = {**scope, SCOPE_CLIENT: client}
        await self._capped(scope, receive, send, cap)

    async def _capped(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        received = 0
        overflow = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, overflow
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    # Django stops reading at a disconnect and answers nothing.
                    overflow = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, watched_send)
        if overflow and not started:
            await _answer(send, _too_large(cap), close=True)


def _too_large(cap: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than {cap} bytes")
