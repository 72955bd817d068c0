"""Chunk handlers for bulk_update / bulk_delete jobs: each chunk re-applies the
request's filter within its seq range, inside the chunk's transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.handlers import ChunkOutcome, RowError, register_chunk_handler
from resources.bulk.parsing import ALL_KEY
from resources.filters import parse_filter
from resources.parsing import parse_patch
from resources.services import delete_rows, delete_rows_in_ranges, update_rows

if TYPE_CHECKING:
    from jobs.models import Chunk, Job


def _range(chunk: Chunk) -> tuple[int, int]:
    payload = chunk.payload or {}
    return int(payload["first_seq"]), int(payload["last_seq"])


@register_chunk_handler("bulk_update")
def bulk_update_chunk(job: Job, chunk: Chunk) -> ChunkOutcome:
    payload = chunk.payload or {}
    outcome = update_rows(
        tenant=job.tenant,
        spec=parse_filter(payload["filter"], allowed_extra=(ALL_KEY,)),
        patch=parse_patch(payload["update"]),
        seq_range=_range(chunk),
    )
    return ChunkOutcome(
        successful=outcome.successful,
        failed=len(outcome.failures),
        errors=[
            RowError(field="metadata", message=f.message, values={"id": f.id})
            for f in outcome.failures
        ],
    )


def bulk_delete_chunks(job: Job, chunks: list[Chunk]) -> list[ChunkOutcome]:
    """A window message's chunks deleted together: one lock pass and one DELETE over
    their seq ranges, each chunk credited with the rows of its own range. The engine
    commits them at once, with their own done marks and progress."""
    payload = chunks[0].payload or {}  # a job's chunks share the filter and the mode
    counts = delete_rows_in_ranges(
        tenant=job.tenant,
        spec=parse_filter(payload["filter"], allowed_extra=(ALL_KEY,)),
        soft=bool(payload.get("soft_delete")),
        ranges=[_range(chunk) for chunk in chunks],
    )
    return [ChunkOutcome(successful=count, failed=0) for count in counts]


@register_chunk_handler("bulk_delete", group=bulk_delete_chunks)
def bulk_delete_chunk(job: Job, chunk: Chunk) -> ChunkOutcome:
    payload = chunk.payload or {}
    deleted = delete_rows(
        tenant=job.tenant,
        spec=parse_filter(payload["filter"], allowed_extra=(ALL_KEY,)),
        soft=bool(payload.get("soft_delete")),
        seq_range=_range(chunk),
    )
    return ChunkOutcome(successful=len(deleted), failed=0)
