"""Chunk handlers for bench.engine_overhead (imported by its workers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.handlers import ChunkOutcome, register_chunk_handler

if TYPE_CHECKING:
    from jobs.models import Chunk, Job


@register_chunk_handler("bench.noop")
def noop(job: Job, chunk: Chunk) -> ChunkOutcome:
    return ChunkOutcome(successful=chunk.row_count, failed=0)
