"""job_add_chunks: text chunks staged before a job starts, one COPY per batch."""

from __future__ import annotations

import pytest

from jobs.engine import lifecycle
from jobs.engine.lifecycle import ChunkInput, StagedChunk
from jobs.models import Chunk, ChunkStatus
from pcf.exceptions import Conflict


def _staged(first_seq: int, count: int) -> list[StagedChunk]:
    text = 'a,"b\tc\\d\r\ne",\\.\n'  # tab, backslash, CRLF, the COPY end marker
    return [
        StagedChunk(seq, seq * 2, ChunkInput(row_count=2, payload_text=text * 2))
        for seq in range(first_seq, first_seq + count)
    ]


@pytest.mark.django_db
def test_staged_chunks_are_stored_exactly_and_counted_but_not_dispatched(tenant):
    job = lifecycle.job_create(tenant=tenant.client_model, type="csv_import", options={})
    lifecycle.job_add_chunks(job=job, chunks=_staged(0, 3))
    lifecycle.job_add_chunks(job=job, chunks=_staged(3, 2))
    lifecycle.job_add_chunks(job=job, chunks=[])
    job.refresh_from_db()
    assert job.chunks_total == 5
    chunks = list(Chunk.objects.filter(job=job).order_by("seq"))
    assert [(c.seq, c.row_offset, c.row_count) for c in chunks] == [(s, 2 * s, 2) for s in range(5)]
    assert {c.payload_text for c in chunks} == {'a,"b\tc\\d\r\ne",\\.\n' * 2}
    assert all(c.status == ChunkStatus.PENDING and c.dispatch_id is None for c in chunks)
    assert all(c.attempts == 0 and c.payload is None and c.error == "" for c in chunks)


@pytest.mark.django_db
def test_no_chunk_can_be_staged_once_the_job_started(tenant):
    job = lifecycle.job_create(tenant=tenant.client_model, type="csv_import", options={})
    lifecycle.job_add_chunks(job=job, chunks=_staged(0, 1))
    lifecycle.job_start(job=job, total=2)
    with pytest.raises(Conflict):
        lifecycle.job_add_chunks(job=job, chunks=_staged(1, 1))
    assert Chunk.objects.filter(job=job).count() == 1
