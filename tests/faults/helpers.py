"""Types of the fault tests' fixtures (tests/faults/conftest.py), for annotating tests."""

from __future__ import annotations

from collections.abc import Callable

from tests.stack import Stack, WebhookReceiver

# start_stack(env={...}, tenants=[...], chunk_concurrency=n) -> a running owned stack
StartStack = Callable[..., Stack]
# webhook_receiver([statuses answered in turn]) -> a running receiver
MakeReceiver = Callable[[list[int]], WebhookReceiver]
