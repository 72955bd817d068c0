"""Fixtures of the fault tests: a whole owned stack per test (see tests/stack.py).

Each test gets fresh servers and processes: a fault test leaves them restarted,
flushed or dead, so nothing is shared between tests but a migrated template cluster
that each test's PostgreSQL is copied from."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.faults.helpers import MakeReceiver, StartStack
from tests.stack import Stack, WebhookReceiver, migrated_template, owned_stack


@pytest.fixture(scope="session")
def _migrated_cluster() -> Iterator[Path]:
    with migrated_template() as data:
        yield data


def _log_root(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    # pytest keeps the last three runs' tmp_path, shared by every user of the machine;
    # PCF_FAULTS_LOG_DIR keeps the logs where CI (or a person) can collect them.
    chosen = os.environ.get("PCF_FAULTS_LOG_DIR")
    return Path(chosen) / request.node.name if chosen else tmp_path


@pytest.fixture
def start_stack(
    _migrated_cluster: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[StartStack]:
    """Start an owned stack: `start_stack(env={...}, tenants=["tenant-a"])`; tokens are
    in `stack.tokens`. Everything it started is stopped and deleted after the test; the
    process logs stay in the test's tmp_path, or under PCF_FAULTS_LOG_DIR, for reading
    after a failure."""
    log_root = _log_root(request, tmp_path)
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
            logs = log_root / f"stack-{count}"
            shutil.rmtree(logs, ignore_errors=True)  # a rerun's: counts read the logs
            logs.mkdir(parents=True)
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
