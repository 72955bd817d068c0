"""What the sync and async job handles share while following a job: the resume point
(`Last-Event-ID`), the count of failed streams, the deadline, and turning SSE events
into ProgressEvents."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from pcf_client.errors import WaitTimeout
from pcf_client.models import JobState, ProgressEvent
from pcf_client.retry import RetryPolicy
from pcf_client.sse import SseEvent

# Streams that fail this many times in a row (without an event in between) give
# way to polling.
MAX_STREAM_FAILURES = 3
CONNECT_TIMEOUT = 10.0
# The server sends a heartbeat every 15 s (PCF_SSE_HEARTBEAT_SECONDS): a stream
# silent for four of them is dead even if its socket is not.
SSE_READ_TIMEOUT = 60.0
ERRORS_PAGE_SIZE = 500
PROGRESS_EVENTS = frozenset({"progress", "complete", "error"})


@dataclass
class StreamState:
    timeout: float | None
    last_id: str | None = None
    failures: int = 0
    received: bool = False
    server_retry: float | None = None
    deadline: float | None = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = None if self.timeout is None else time.monotonic() + self.timeout

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def check_deadline(self) -> None:
        left = self.remaining()
        if left is not None and left <= 0:
            raise WaitTimeout(f"job not finished within {self.timeout}s")

    def sleep_within(self, seconds: float) -> float:
        """`seconds`, cut to what is left before the deadline (raises when none is)."""
        self.check_deadline()
        left = self.remaining()
        return seconds if left is None else max(0.0, min(seconds, left))

    def opened(self) -> None:
        self.received = False

    def failed(self, retry_after: float | None, policy: RetryPolicy) -> float:
        """A stream failed: the wait before the next one."""
        self.failures += 1
        delay = policy.delay(self.failures, retry_after)
        if retry_after is None and self.server_retry is not None:
            delay = max(delay, min(self.server_retry, 5.0))
        return self.sleep_within(delay)

    def closed(self) -> float:
        """The server closed a stream before the final event (its maximum lifetime, a
        proxy's idle cut): open the next at once, unless this one brought nothing."""
        if self.received:
            self.failures = 0
            return 0.0
        self.failures += 1
        return self.sleep_within(min(2.0, 0.25 * 2**self.failures))


def sse_read_timeout(state: StreamState) -> float:
    left = state.remaining()
    return SSE_READ_TIMEOUT if left is None else max(0.1, min(SSE_READ_TIMEOUT, left))


def event_from_sse(raw: SseEvent, state: StreamState) -> ProgressEvent | None:
    if raw.retry_ms is not None:
        state.server_retry = raw.retry_ms / 1000
    if raw.event not in PROGRESS_EVENTS or not raw.data:
        return None
    data = json.loads(raw.data)
    if not isinstance(data, dict):
        return None
    event = ProgressEvent.from_sse(raw.event, raw.id, data)
    if event.kind == "progress" and raw.id:
        state.last_id = raw.id
    state.received = True
    state.failures = 0
    return event


def poll_changed(last: JobState | None, job: JobState) -> bool:
    return (
        last is None
        or job.finished
        or job.status != last.status
        or job.progress.processed != last.progress.processed
    )
