"""The shape PCF's own middleware shares: run in the mode Django hands it.

Django calls a middleware with a sync or an async `get_response`, whichever the chain
below it is. Answering in kind means no thread switch per request (MiddlewareMixin
would run a sync hook through sync_to_async under ASGI) and keeps context variables,
such as the request id bound for log lines, on the request's own thread or task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class DualModeMiddleware:
    """Subclasses give `handle` (sync chain) and `ahandle` (async chain): the same
    work around `self.get_response`, awaited or not."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.ahandle(request)
        return self.handle(request)

    def handle(self, request: HttpRequest) -> HttpResponseBase:
        raise NotImplementedError

    async def ahandle(self, request: HttpRequest) -> HttpResponseBase:
        raise NotImplementedError
