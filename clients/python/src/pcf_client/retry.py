"""When and how long to wait before sending a request again.

Exponential backoff with full jitter (so many clients that failed together do not
come back together), never shorter than the server's `Retry-After`."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import httpx

# Answers that say "not now" rather than "no": rate limits and overloaded or
# restarting servers and proxies. A 500 is a code error: sending it again would not help.
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 0.25
    max_delay: float = 30.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        backoff = random.uniform(0, ceiling)
        if retry_after is not None:
            # The server's wait is a floor; a little jitter on top spreads the returns.
            return retry_after + random.uniform(0, min(1.0, self.base_delay))
        return backoff


NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass(frozen=True)
class RetryEvent:
    """Reported to `on_retry` (and logged) before each wait: what failed and how
    long the client will wait."""

    method: str
    url: str
    retry: int
    delay: float
    status: int | None
    reason: str
    retry_after: float | None = None


RetryHook = Callable[[RetryEvent], None]


def retryable_exception(exc: BaseException) -> bool:
    """Network faults: the request may or may not have reached the server, which is
    why every POST carries an Idempotency-Key."""
    return isinstance(exc, httpx.TransportError)
