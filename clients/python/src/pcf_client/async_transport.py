"""Non-blocking HTTP with retries (httpx.AsyncClient); the twin of sync_transport."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Callable
from typing import Any

import httpx

from pcf_client.errors import TransportError, parse_retry_after
from pcf_client.retry import NO_RETRY, RETRY_STATUSES, RetryEvent, RetryHook, RetryPolicy
from pcf_client.wire import api_error, default_headers, encode_json, new_idempotency_key

logger = logging.getLogger("pcf_client")

ContentFactory = Callable[[], AsyncIterable[bytes] | bytes]


class AsyncTransport:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float | httpx.Timeout,
        retry: RetryPolicy,
        on_retry: RetryHook | None,
    ) -> None:
        self.base_url = base_url
        self.retry = retry
        self.on_retry = on_retry
        self.http = httpx.AsyncClient(
            base_url=base_url, headers=default_headers(token), timeout=timeout
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: ContentFactory | None = None,
        headers: dict[str, str] | None = None,
        retry: bool = True,
        timeout: float | httpx.Timeout | None = None,
        hook: RetryHook | None = None,
    ) -> httpx.Response:
        """Send, retrying transport errors and 429/502/503/504 with backoff; return the
        2xx answer (body read) or raise the typed error. POSTs carry an Idempotency-Key
        kept across retries, so a retry never applies a request twice."""
        all_headers = dict(headers or {})
        if method == "POST" and "Idempotency-Key" not in all_headers:
            all_headers["Idempotency-Key"] = new_idempotency_key()
        body: bytes | None = None
        if json is not None:
            body, json_headers = encode_json(json)
            all_headers.update(json_headers)
        policy = self.retry if retry else NO_RETRY
        attempt = 0
        while True:
            attempt += 1
            payload = content() if content is not None else body
            try:
                response = await self.http.request(
                    method, path, params=params, content=payload, headers=all_headers,
                    timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
                )  # fmt: skip
            except httpx.TransportError as exc:
                if attempt >= policy.max_attempts:
                    raise TransportError(f"{method} {path}: {exc!r}") from exc
                await self._wait(
                    policy, attempt, method, path, None, type(exc).__name__, None, hook
                )
                continue
            if response.status_code in RETRY_STATUSES and attempt < policy.max_attempts:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                await self._wait(
                    policy, attempt, method, path, response.status_code,
                    response.reason_phrase, retry_after, hook,
                )  # fmt: skip
                continue
            if response.status_code >= 400:
                raise api_error(response)
            return response

    async def open_stream(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> httpx.Response:
        """A streamed answer (SSE, CSV download) the caller must close. No retries
        here: resuming a stream is the caller's business. Non-2xx raises."""
        request = self.http.build_request(
            method, path, params=params, headers=headers,
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
        )  # fmt: skip
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise TransportError(f"{method} {path}: {exc!r}") from exc
        if response.status_code >= 400:
            try:
                await response.aread()
            finally:
                await response.aclose()
            raise api_error(response)
        return response

    async def _wait(
        self,
        policy: RetryPolicy,
        attempt: int,
        method: str,
        path: str,
        status: int | None,
        reason: str,
        retry_after: float | None,
        hook: RetryHook | None = None,
    ) -> None:
        delay = policy.delay(attempt, retry_after)
        event = RetryEvent(method, path, attempt, delay, status, reason, retry_after)
        logger.warning(
            "retry %d of %s %s in %.2fs (%s)", attempt, method, path, delay, status or reason
        )
        for callback in (hook, self.on_retry):
            if callback is not None:
                callback(event)
        await asyncio.sleep(delay)
