"""Polling: wait for a condition, never for a fixed time, with an upper bound that only a
hang reaches (tests also pass on a loaded 2-core machine). Imports nothing of Django, so
tests/stack.py (usable outside pytest) waits with it too; tests/waiting.py builds the
waits on the application's state on top."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float = 30,
    interval: float = 0.05,
    *,
    what: str = "condition",
) -> T:
    """Call `predicate` until it returns something truthy; return that, or fail naming
    `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout:g}s")
        time.sleep(interval)


async def wait_for_async(predicate: Any, timeout: float = 30, interval: float = 0.05) -> Any:
    """`wait_for` inside an event loop: it sleeps with asyncio, so the loop keeps serving
    what the test waits on (streams it reads). `predicate` may return an awaitable."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition: not met within {timeout:g}s")
        await asyncio.sleep(interval)

