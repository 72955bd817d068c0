"""The chunk handler registry: how features plug their work into the engine.

A handler applies one chunk inside the chunk's transaction and returns its row
outcomes; the engine commits the handler's writes, the row errors, the chunk's done
mark and the job's counters together, so a raised exception undoes all of them.

A check handler validates one chunk without writing anything; a job whose chunks are
staged for checking applies none of them before all passed (a strict import).

The names registered here are the job types the engine accepts (`job_create` checks
them), and each registration carries the words the engine uses for the job's units
and failures, so the engine itself never speaks of rows, operations or uploads."""

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
# Applies consecutive chunks of one job at once (e.g. one COPY for all of them), inside
# their shared transaction; returns one outcome per chunk, or None when they cannot go
# together (the engine then applies them one by one). It must write nothing when it
# returns None; when it raises, the engine rolls everything back and goes one by one.
GroupHandler = Callable[["Job", "list[Chunk]"], "list[ChunkOutcome] | None"]


@dataclass(frozen=True)
class Wording:
    """How the engine names a job kind's units in the messages a tenant reads."""

    unit: str = "row"  # singular: "row", "operation"
    units: str = "rows"

    def span(self, first: int, last: int) -> str:
        """ "rows 1-1000" or "row 7"."""
        return f"{self.unit} {first}" if first == last else f"{self.units} {first}-{last}"


_HANDLERS: dict[str, ChunkHandler] = {}
_GROUP_HANDLERS: dict[str, GroupHandler] = {}
_WORDING: dict[str, Wording] = {}


def register_chunk_handler(
    job_type: str, *, wording: Wording | None = None, group: GroupHandler | None = None
) -> Callable[[ChunkHandler], ChunkHandler]:
    """Decorator: run `handler` for the chunks of jobs of `job_type` (or of a job whose
    `handler` names it). Register from an AppConfig.ready() so workers see it too.
    `group`, optional, applies several chunks of a window message at once: each chunk
    keeps its all-or-nothing effect (they commit together), its done mark, its errors
    and its progress."""

    def decorate(handler: ChunkHandler) -> ChunkHandler:
        _HANDLERS[job_type] = handler
        _WORDING[job_type] = wording or Wording()
        if group is not None:
            _GROUP_HANDLERS[job_type] = group
        return handler

    return decorate


def get_group_handler(name: str) -> GroupHandler | None:
    return _GROUP_HANDLERS.get(name)


def get_chunk_handler(name: str) -> ChunkHandler | None:
    return _HANDLERS.get(name)


def registered_handlers() -> dict[str, ChunkHandler]:
    return dict(_HANDLERS)


def is_registered(name: str) -> bool:
    return name in _HANDLERS


def job_types() -> list[str]:
    """Every registered job type, sorted (e.g. the `type` filter's choices)."""
    return sorted(_HANDLERS)


def wording_of(name: str) -> Wording:
    return _WORDING.get(name, Wording())


@dataclass
class CheckOutcome:
    invalid: int  # rows that would fail
    errors: list[RowError] = field(default_factory=list)
    # Kept as the chunk's payload for its apply pass (what the check learnt about the
    # chunk, so applying it need not work it out again); None keeps the payload.
    memo: dict[str, Any] | None = None


CheckHandler = Callable[["Job", "Chunk"], CheckOutcome]
# (invalid, total) -> the failed job's message when a check pass found invalid units.
CheckVerdict = Callable[[int, int], str]

_CHECK_HANDLERS: dict[str, CheckHandler] = {}
_VERDICTS: dict[str, CheckVerdict] = {}


def register_check_handler(
    job_type: str, *, verdict: CheckVerdict | None = None
) -> Callable[[CheckHandler], CheckHandler]:
    """Decorator: check the chunks of jobs of `job_type` staged with check=True.
    `verdict` words the job's message when the pass found invalid units."""

    def decorate(handler: CheckHandler) -> CheckHandler:
        _CHECK_HANDLERS[job_type] = handler
        if verdict is not None:
            _VERDICTS[job_type] = verdict
        return handler

    return decorate


def get_check_handler(name: str) -> CheckHandler | None:
    return _CHECK_HANDLERS.get(name)


def check_verdict(name: str, invalid: int, total: int) -> str:
    """The failed job's message: the kind's own words, or the engine's plain ones."""
    if name in _VERDICTS:
        return _VERDICTS[name](invalid, total)
    units = wording_of(name).units
    return f"Check failed: {invalid} of {total} {units} are invalid; nothing was written"


SettledHook = Callable[["Job"], None]

_SETTLED_HOOKS: dict[str, SettledHook] = {}


def register_settled_hook(job_type: str) -> Callable[[SettledHook], SettledHook]:
    """Decorator: call `hook(job)` once a job of `job_type` has settled (its final
    counts are committed), outside any transaction, in the process that settled it.
    For follow-up work that must not fail the job (e.g. refreshing planner
    statistics after a large import); its exceptions are logged."""

    def decorate(hook: SettledHook) -> SettledHook:
        _SETTLED_HOOKS[job_type] = hook
        return hook

    return decorate


def settled_hook(name: str) -> SettledHook | None:
    return _SETTLED_HOOKS.get(name)
