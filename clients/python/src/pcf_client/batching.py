"""Splitting any number of operations into batches the server accepts, and adapting
batch size and concurrency to what the server answers (the cookbook's
AdaptiveBatcher, plus 413 and 429). I/O free: the sync and async clients drive it.

Limits of one `POST /v1/batch` (API.md): 1,000 operations, 5,000 when all are
DELETE, at most 500 GET."""

from __future__ import annotations

import itertools
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pcf_client.errors import PcfError
from pcf_client.models import BatchResult

MAX_OPERATIONS = 1000
MAX_DELETE_OPERATIONS = 5000
MAX_GET_OPERATIONS = 500
# A delete is much cheaper than a create: an all-DELETE batch may be this many times
# the current size (the server allows five times as many).
DELETE_FACTOR = 5
WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE"})


class OperationError(PcfError):
    """An operation that cannot be sent at all (not an object, no method or path)."""


@dataclass
class AdaptiveBatcher:
    """Batch size follows latency (grow 20% under 0.8x the target, shrink 20% over
    1.2x, as in the cookbook); a 413 halves it. A 429 halves the number of batches in
    flight instead: the rate limit counts requests, so smaller batches would only
    mean more of them. Concurrency creeps back up by one after `recover_after`
    batches without a 429."""

    size: int = 100
    min_size: int = 10
    max_size: int = MAX_OPERATIONS
    target_seconds: float = 1.0
    max_concurrency: int = 4
    concurrency: int = 4
    recover_after: int = 8
    _calm: int = 0

    def __post_init__(self) -> None:
        self.size = max(1, min(self.size, self.max_size))
        self.concurrency = max(1, min(self.concurrency, self.max_concurrency))

    def record(self, operations: int, seconds: float) -> None:
        # Only batches that were full say anything about the size (the last one rarely is).
        if operations >= self.size:
            if seconds < self.target_seconds * 0.8:
                self.size = min(self.max_size, max(self.size + 1, int(self.size * 1.2)))
            elif seconds > self.target_seconds * 1.2:
                self.size = max(self.min_size, int(self.size * 0.8))
        self._calm += 1
        if self._calm >= self.recover_after and self.concurrency < self.max_concurrency:
            self.concurrency += 1
            self._calm = 0

    def too_large(self, operations: int) -> None:
        # Below min_size if need be: the server has just said this size is too big.
        self.size = max(1, min(self.size, operations) // 2)

    def rate_limited(self) -> None:
        self.concurrency = max(1, self.concurrency // 2)
        self._calm = 0


@dataclass
class PendingOp:
    seq: int
    op: dict[str, Any]

    @property
    def method(self) -> str:
        return str(self.op["method"])


def prepare(op: Mapping[str, Any], seq: int, run: str, keys: bool) -> dict[str, Any]:
    """A copy of `op` with an id (`op<n>` by input position, so ids stay unique across
    batches) and, for writes, an idempotency key that stays with it through retries
    and re-splits: an operation that already succeeded answers its first result."""
    if not isinstance(op, Mapping):
        raise OperationError(f"operation {seq + 1} is not an object: {op!r}")
    method = str(op.get("method", "")).upper()
    if not method or not op.get("path"):
        raise OperationError(f"operation {seq + 1} needs a method and a path: {dict(op)!r}")
    prepared = dict(op)
    prepared["method"] = method
    prepared.setdefault("id", f"op{seq + 1}")
    if keys and method in WRITE_METHODS:
        prepared.setdefault("idempotency_key", f"{run}-{seq}")
    return prepared


class BatchPlan:
    """The operations still to send, the batches in flight, and the results in input
    order. Reads the caller's operations lazily (a bounded read-ahead)."""

    def __init__(
        self, operations: Iterable[Mapping[str, Any]], batcher: AdaptiveBatcher, *, keys: bool
    ) -> None:
        self.batcher = batcher
        self._source = enumerate(operations)
        self._exhausted = False
        self._run = f"pcf-{uuid.uuid4().hex[:16]}"
        self._keys = keys
        self._pending: deque[PendingOp] = deque()
        self._results: dict[int, BatchResult] = {}
        self._next_out = 0
        self._get_cap = MAX_GET_OPERATIONS
        self.requests = 0

    def next_batch(self) -> list[PendingOp] | None:
        """The next batch within the limits and the current size, or None when
        nothing is left to send."""
        self._fill(MAX_DELETE_OPERATIONS)
        size = self.batcher.size
        batch: list[PendingOp] = []
        gets = 0
        all_delete = True
        while self._pending:
            item = self._pending[0]
            deleting = all_delete and item.method == "DELETE"
            cap = (
                min(size * DELETE_FACTOR, MAX_DELETE_OPERATIONS)
                if deleting
                else min(size, MAX_OPERATIONS)
            )
            if len(batch) + 1 > cap:
                break
            if item.method == "GET":
                if gets + 1 > self._get_cap:
                    break
                gets += 1
            all_delete = deleting
            batch.append(self._pending.popleft())
        if not batch:
            return None
        self.requests += 1
        return batch

    def resend(self, batch: list[PendingOp]) -> None:
        """Put a batch back at the front (the server said 413: it goes again smaller)."""
        self.batcher.too_large(len(batch))
        self._pending.extendleft(reversed(batch))

    def complete(self, batch: list[PendingOp], answer: Mapping[str, Any]) -> None:
        """Take one batch's answer. Results come in request order; with
        `suppress_success` only failures come, matched back by id. A GET past the
        server's answer budget (413 RESPONSE_TOO_LARGE in its own result) goes again
        in a batch with fewer GETs."""
        raw = answer.get("results") or []
        results = [BatchResult.from_dict(r) for r in raw if isinstance(r, dict)]
        if len(results) != len(batch):
            by_id = {r.id: r for r in results}
            results = [by_id.get(str(p.op["id"])) or _suppressed(p) for p in batch]
        again: list[PendingOp] = []
        gets = sum(1 for p in batch if p.method == "GET")
        for pending, result in zip(batch, results, strict=True):
            if result.code == "RESPONSE_TOO_LARGE" and pending.method == "GET" and gets > 1:
                again.append(pending)
                self._get_cap = max(1, min(self._get_cap, gets) // 2)
            else:
                self._results[pending.seq] = result
        self._pending.extendleft(reversed(again))

    def ready(self) -> Iterator[BatchResult]:
        """Results whose turn has come, in input order."""
        while self._next_out in self._results:
            yield self._results.pop(self._next_out)
            self._next_out += 1

    def _fill(self, wanted: int) -> None:
        if self._exhausted or len(self._pending) >= wanted:
            return
        for seq, op in itertools.islice(self._source, wanted - len(self._pending)):
            self._pending.append(PendingOp(seq, prepare(op, seq, self._run, self._keys)))
        if len(self._pending) < wanted:
            self._exhausted = True


def _suppressed(pending: PendingOp) -> BatchResult:
    # suppress_success: the server lists failures only; the rest succeeded.
    return BatchResult(
        id=str(pending.op["id"]),
        status=200,
        body=None,
        error=None,
        original_operation=None,
        raw={"id": pending.op["id"], "status": 200, "suppressed": True},
    )


def batch_options(
    *,
    continue_on_error: bool = True,
    parallel: int | None = None,
    timeout_ms: int | None = None,
    suppress_success: bool = False,
    soft_delete: bool = False,
) -> dict[str, Any]:
    """The `options` of each request (no `atomic`: atomicity cannot span requests)."""
    options: dict[str, Any] = {}
    if not continue_on_error:
        options["continue_on_error"] = False
    if parallel is not None:
        options["parallel"] = parallel
    if timeout_ms is not None:
        options["timeout_ms"] = timeout_ms
    if suppress_success:
        options["suppress_success"] = True
    if soft_delete:
        options["soft_delete"] = True
    return options
