"""Typed results: resources, jobs, progress events, job row errors, batch results.

Each keeps the answer it came from in `raw`, so fields the server adds later are
never lost to a caller that needs them."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from typing import Any

from pcf_client.errors import ApiError, error_from_result

FINISHED_STATUSES = frozenset({"completed", "failed", "cancelled"})


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 with `Z` (the contract's form) to an aware datetime; None stays None."""
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


@dataclass(frozen=True)
class Resource:
    id: str
    name: str
    type: str
    status: str
    metadata: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None
    raw: dict[str, Any] = dc_field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Resource:
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            type=str(data.get("type", "")),
            status=str(data.get("status", "")),
            metadata=dict(data.get("metadata") or {}),
            created_at=parse_time(data.get("created_at")),
            updated_at=parse_time(data.get("updated_at")),
            raw=data,
        )


@dataclass(frozen=True)
class JobProgress:
    total: int
    processed: int
    successful: int
    failed: int
    skipped: int
    percentage: float

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobProgress:
        return cls(
            total=_int(data.get("total")),
            processed=_int(data.get("processed")),
            successful=_int(data.get("successful")),
            failed=_int(data.get("failed")),
            skipped=_int(data.get("skipped")),
            percentage=float(data.get("percentage") or 0),
        )


@dataclass(frozen=True)
class JobState:
    """The job object of `GET /v1/jobs/{id}` at one moment."""

    id: str
    type: str
    status: str
    progress: JobProgress
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    estimated_completion: datetime | None
    rows_per_second: float | None
    message: str | None
    summary: dict[str, Any] | None
    raw: dict[str, Any] = dc_field(default_factory=dict, compare=False, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobState:
        rate = data.get("rows_per_second")
        return cls(
            id=str(data.get("id", "")),
            type=str(data.get("type", "")),
            status=str(data.get("status", "")),
            progress=JobProgress.from_dict(data.get("progress") or {}),
            created_at=parse_time(data.get("created_at")),
            started_at=parse_time(data.get("started_at")),
            finished_at=parse_time(data.get("finished_at")),
            estimated_completion=parse_time(data.get("estimated_completion")),
            rows_per_second=float(rate) if isinstance(rate, int | float) else None,
            message=data.get("message"),
            summary=data.get("summary"),
            raw=data,
        )


@dataclass(frozen=True)
class ProgressEvent:
    """One event of a job's progress: `progress`, then one final `complete` or `error`
    (which carries the job object in `job`). From SSE, or made from polling."""

    kind: str
    event_id: str | None
    processed: int
    total: int
    successful: int
    failed: int
    skipped: int
    percentage: float
    status: str
    job: JobState | None = None

    @property
    def final(self) -> bool:
        return self.kind in ("complete", "error")

    @classmethod
    def from_sse(cls, kind: str, event_id: str | None, data: dict[str, Any]) -> ProgressEvent:
        if kind in ("complete", "error") and "progress" in data:
            job = JobState.from_dict(data)
            return cls.from_job(job, kind=kind, event_id=event_id)
        return cls(
            kind=kind,
            event_id=event_id,
            processed=_int(data.get("processed")),
            total=_int(data.get("total")),
            successful=_int(data.get("successful")),
            failed=_int(data.get("failed")),
            skipped=_int(data.get("skipped")),
            percentage=float(data.get("percentage") or 0),
            status=str(data.get("status") or "processing"),
        )

    @classmethod
    def from_job(
        cls, job: JobState, *, kind: str | None = None, event_id: str | None = None
    ) -> ProgressEvent:
        if kind is None:
            kind = (
                ("complete" if job.status == "completed" else "error")
                if job.finished
                else ("progress")
            )
        p = job.progress
        return cls(
            kind=kind,
            event_id=event_id,
            processed=p.processed,
            total=p.total,
            successful=p.successful,
            failed=p.failed,
            skipped=p.skipped,
            percentage=p.percentage,
            status=job.status,
            job=job if kind != "progress" else None,
        )


@dataclass(frozen=True)
class JobRowError:
    """A failed row of a job: `row` (CSV, 1-based) or `index` (JSON, 0-based)."""

    field: str | None
    code: str | None
    message: str
    values: Any
    row: int | None = None
    index: int | None = None
    raw: dict[str, Any] = dc_field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, index_offset: int = 0) -> JobRowError:
        index = data.get("index")
        return cls(
            field=data.get("field"),
            code=data.get("code"),
            message=str(data.get("message", "")),
            values=data.get("values"),
            row=data.get("row"),
            index=index + index_offset if isinstance(index, int) else None,
            raw=data,
        )


@dataclass(frozen=True)
class BatchResult:
    """The result of one batch operation, in the server's shape."""

    id: str
    status: int
    body: Any
    error: dict[str, Any] | None
    original_operation: dict[str, Any] | None
    raw: dict[str, Any] = dc_field(default_factory=dict, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def code(self) -> str | None:
        return str(self.error.get("code")) if self.error else None

    def exception(self) -> ApiError | None:
        """The typed exception this operation would have raised as a single request."""
        return None if self.ok else error_from_result(self.status, self.error)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchResult:
        return cls(
            id=str(data.get("id", "")),
            status=int(data.get("status", 0)),
            body=data.get("body"),
            error=data.get("error"),
            original_operation=data.get("originalOperation"),
            raw=data,
        )


@dataclass
class BatchReport:
    """Every result of a `batch()` call in input order, with counts."""

    results: list[BatchResult]
    requests: int = 0

    @property
    def successful(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def failed(self) -> list[BatchResult]:
        return [r for r in self.results if not r.ok]


@dataclass(frozen=True)
class BulkResult:
    """The answer of bulk-update / bulk-delete. Small matched sets are done when this
    returns (`count`); larger ones run as a job (`job_id` set; follow it with
    `client.job(job_id)`)."""

    count: int | None
    matched_count: int | None
    dry_run: bool
    ids: list[str]
    duration_ms: int | None
    job_id: str | None
    raw: dict[str, Any] = dc_field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, count_key: str, dry_run: bool) -> BulkResult:
        count = data.get(count_key)
        matched = data.get("matched_count")
        return cls(
            count=count if isinstance(count, int) else None,
            matched_count=matched if isinstance(matched, int) else None,
            dry_run=dry_run,
            ids=list(data.get("deleted_ids") or []),
            duration_ms=data.get("duration_ms"),
            job_id=data.get("job_id"),
            raw=data,
        )
