"""Every request gets an id: the caller's `X-Request-ID` when it is acceptable
(pcf.logcontext.REQUEST_ID_PATTERN), else a new one. It is bound to every log line of the
request, stored on a job the request submits (Job.request_id), and sent back in the
answer's `X-Request-ID`, so an operator can go from an API call to its log lines and its
job's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from pcf import logcontext

HEADER = "X-Request-ID"


class RequestIdMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        request_id = logcontext.request_id_from(request.headers.get(HEADER))
        with logcontext.bind(request_id=request_id):
            response = self.get_response(request)
        response[HEADER] = request_id
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        request_id = logcontext.request_id_from(request.headers.get(HEADER))
        with logcontext.bind(request_id=request_id):
            response = await self.get_response(request)
        response[HEADER] = request_id
        return response
