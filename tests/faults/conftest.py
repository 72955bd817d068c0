"""Fixtures of the fault tests: a whole owned stack per test (see tests/stack.py).

Each test gets fresh servers and processes: a fault test leaves them restarted,
flushed or dead, so nothing is shared between tests but a migrated template cluster
that each test's PostgreSQL is copied from."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.stack import Stack, WebhookReceiver, migrated_template, owned_stack

StartStack = Callable[..., Stack]
MakeReceiver = Callable[[list[int]], WebhookReceiver]


@pytest.fixture(scope="session")
def _migrated_cluster() -> Iterator[Path]:
    with migrated_template() as data:
        yield data


@pytest.fixture
def start_stack(_migrated_cluster: Path, tmp_path: Path) -> Iterator[StartStack]:
    """Start an owned stack: `start_stack(env={...}, tenants=["tenant-a"])`; tokens are
    in `stack.tokens`. Everything it started is stopped and deleted after the test; the
    process logs stay in the test's tmp_path (pytest keeps the last runs) for reading
    after a failure."""
    with contextlib.ExitStack() as stacks:
        count = 0

        def start(
            *,
            env: Mapping[str, str] | None = None,
            tenants: Iterable[str] = ("tenant-a",),
            chunk_concurrency: int = 2,
        ) -> Stack:
            nonlocal count
            count += 1
            logs = tmp_path / f"stack-{count}"
            logs.mkdir()
            stack = owned_stack(
                env=env,
                chunk_concurrency=chunk_concurrency,
                logs=logs,
                template=_migrated_cluster,
                tenants=tenants,
            )
            return stacks.enter_context(stack)

        yield start


@pytest.fixture
def webhook_receiver() -> Iterator[MakeReceiver]:
    """Start a WebhookReceiver answering the given statuses in turn; closed after the
    test."""
    receivers: list[WebhookReceiver] = []

    def start(statuses: list[int]) -> WebhookReceiver:
        receivers.append(WebhookReceiver(statuses))
        return receivers[-1]

    yield start
    for receiver in receivers:
        receiver.close()
