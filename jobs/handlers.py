"""The chunk handler registry: how features plug their work into the engine.

A handler applies one chunk inside the chunk's transaction and returns its row
outcomes; the engine commits the handler's writes, the row errors, the chunk's done
mark and the job's counters together, so a raised exception undoes all of them.

A check handler validates one chunk without writing anything; a job whose chunks are
staged for checking applies none of them before all passed (a strict import)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.models import Chunk, Job


@dataclass
class RowError:
    field: str
    message: str
    code: str = "VALIDATION_ERROR"
    row: int | None = None  # CSV: 1-based data row (header excluded)
    index: int | None = None  # JSON: 0-based item index
    values: Any = None  # the row's original values


@dataclass
class ChunkOutcome:
    successful: int
    failed: int
    errors: list[RowError] = field(default_factory=list)
    # Per-item results (async batch): GET /jobs/{id}/results concatenates them by chunk seq.
    results: list[dict[str, Any]] | None = None
    # Batch meta; numeric values are summed across chunks for /results.
    meta: dict[str, Any] | None = None
    # Set => the job ends `failed` with this message; the chunk's own writes still commit.
    fail_job: str | None = None
    # Rows neither applied nor failed on their own (batch SKIPPED / ROLLED_BACK);
    # the job's processed = successful + failed + skipped.
    skipped: int = 0


ChunkHandler = Callable[["Job", "Chunk"], ChunkOutcome]

_HANDLERS: dict[str, ChunkHandler] = {}


def register_chunk_handler(job_type: str) -> Callable[[ChunkHandler], ChunkHandler]:
    """Decorator: run `handler` for the chunks of jobs of `job_type` (or of a job whose
    `handler` names it). Register from an AppConfig.ready() so workers see it too."""

    def decorate(handler: ChunkHandler) -> ChunkHandler:
        _HANDLERS[job_type] = handler
        return handler

    return decorate


def get_chunk_handler(name: str) -> ChunkHandler | None:
    return _HANDLERS.get(name)


def registered_handlers() -> dict[str, ChunkHandler]:
    return dict(_HANDLERS)


@dataclass
class CheckOutcome:
    invalid: int  # rows that would fail
    errors: list[RowError] = field(default_factory=list)
    # Kept as the chunk's payload for its apply pass (what the check learnt about the
    # chunk, so applying it need not work it out again); None keeps the payload.
    memo: dict[str, Any] | None = None


CheckHandler = Callable[["Job", "Chunk"], CheckOutcome]

_CHECK_HANDLERS: dict[str, CheckHandler] = {}


def register_check_handler(job_type: str) -> Callable[[CheckHandler], CheckHandler]:
    """Decorator: check the chunks of jobs of `job_type` staged with check=True."""

    def decorate(handler: CheckHandler) -> CheckHandler:
        _CHECK_HANDLERS[job_type] = handler
        return handler

    return decorate


def get_check_handler(name: str) -> CheckHandler | None:
    return _CHECK_HANDLERS.get(name)
