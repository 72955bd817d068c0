"""Every request gets an id: the caller's `X-Request-ID` when it is acceptable
(pcf.logcontext.REQUEST_ID_PATTERN), else a new one. It is bound to every log line of the
request, stored on a job the request submits (Job.request_id), and sent back in the
answer's `X-Request-ID`, so an operator can go from an API call to its log lines and its
job's.

Two layers, one id: `RequestIdASGI` wraps the whole ASGI application (pcf/asgi.py), so
lines logged outside Django's middleware (Django's own "Not Found" line, a body refused
by pcf.bodyguard) carry it too; `RequestIdMiddleware` takes the id from the scope, or
makes one where there is no ASGI wrapper (WSGI, Django's test client)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from pcf import logcontext
from pcf.middleware import DualModeMiddleware

HEADER = "X-Request-ID"
SCOPE_KEY = "pcf.request_id"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _from_scope(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if bytes(key).lower() == b"x-request-id":
            return logcontext.request_id_from(bytes(value).decode("latin-1"))
    return logcontext.request_id_from(None)


class RequestIdASGI:
    """Binds the request id around the whole request and adds the response header."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        request_id = scope[SCOPE_KEY] = _from_scope(scope)

        async def send_with_id(message: Message) -> None:
            if message.get("type") == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(bytes(k).lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        with logcontext.bind(request_id=request_id):
            await self.app(scope, receive, send_with_id)


class RequestIdMiddleware(DualModeMiddleware):
    def handle(self, request: HttpRequest) -> HttpResponseBase:
        request_id = _request_id(request)
        with logcontext.bind(request_id=request_id):
            response: HttpResponseBase = self.get_response(request)
        response[HEADER] = request_id
        return response

    async def ahandle(self, request: HttpRequest) -> HttpResponseBase:
        request_id = _request_id(request)
        with logcontext.bind(request_id=request_id):
            response: HttpResponseBase = await self.get_response(request)
        response[HEADER] = request_id
        return response


def _request_id(request: HttpRequest) -> str:
    scope = getattr(request, "scope", None)
    if scope is not None and SCOPE_KEY in scope:
        return str(scope[SCOPE_KEY])
    return logcontext.request_id_from(request.headers.get(HEADER))
