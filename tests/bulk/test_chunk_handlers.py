"""The bulk chunk handlers called directly inside a transaction, as the engine does."""

from __future__ import annotations

from django.db import transaction
from django.test import override_settings

from jobs.engine.execution import group_run
from jobs.models import Chunk
from resources.bulk.handlers import bulk_delete_chunk, bulk_delete_chunks, bulk_update_chunk
from resources.models import Resource
from tests.factories import ResourceFactory
from tests.jobs.helpers import make_job


def _chunk(tenant, job_type, payload):
    job = make_job(tenant.client_model, [payload], handler="", type=job_type, start=False)
    return job, Chunk.objects.get(job=job)


def test_update_chunk_stays_in_its_seq_range_and_tenant(tenant, other_tenant):
    # given: five drafts; the chunk covers the middle three
    rows = [ResourceFactory.create(tenant=tenant.client_model, status="draft") for _ in range(5)]
    ResourceFactory.create(tenant=other_tenant.client_model, status="draft")
    job, chunk = _chunk(
        tenant,
        "bulk_update",
        {
            "filter": {"status": "draft"},
            "update": {"name": "renamed"},
            "first_seq": rows[1].seq,
            "last_seq": rows[3].seq,
        },
    )
    # when
    with transaction.atomic():
        outcome = bulk_update_chunk(job, chunk)
    # then
    assert (outcome.successful, outcome.failed) == (3, 0)
    renamed = Resource.objects.filter(name="renamed").order_by("seq")
    assert [r.pk for r in renamed] == [r.pk for r in rows[1:4]]


@override_settings(PCF_METADATA_MAX_BYTES=120)
def test_update_chunk_reports_rows_over_the_metadata_cap(tenant):
    # given
    big = ResourceFactory.create(tenant=tenant.client_model, metadata={"blob": "x" * 90})
    job, chunk = _chunk(
        tenant,
        "bulk_update",
        {
            "filter": {"all": True},
            "update": {"metadata": {"more": "y" * 40}},
            "first_seq": big.seq,
            "last_seq": big.seq,
        },
    )
    # when
    with transaction.atomic():
        outcome = bulk_update_chunk(job, chunk)
    # then: a row error naming the resource, the row unchanged
    assert (outcome.successful, outcome.failed) == (0, 1)
    assert outcome.errors[0].values == {"id": big.public_id}
    big.refresh_from_db()
    assert big.metadata == {"blob": "x" * 90}


def test_delete_chunk_respects_the_filter_at_run_time(tenant):
    # given: three rows in range, one no longer matching
    rows = [ResourceFactory.create(tenant=tenant.client_model, status="archived") for _ in range(3)]
    Resource.objects.filter(pk=rows[1].pk).update(status="active")
    job, chunk = _chunk(
        tenant,
        "bulk_delete",
        {
            "filter": {"status": "archived"},
            "soft_delete": False,
            "first_seq": rows[0].seq,
            "last_seq": rows[2].seq,
        },
    )
    # when
    with transaction.atomic():
        outcome = bulk_delete_chunk(job, chunk)
    # then
    assert outcome.successful == 2
    assert list(Resource.objects.values_list("pk", flat=True)) == [rows[1].pk]


def _delete_job(tenant, ranges, *, soft=False, start=False):
    payloads = [
        {"filter": {"status": "archived"}, "soft_delete": soft, "first_seq": a, "last_seq": b}
        for a, b in ranges
    ]
    job = make_job(tenant.client_model, payloads, handler="", type="bulk_delete", start=start)
    return job, list(Chunk.objects.filter(job=job).order_by("seq"))


def test_delete_chunks_together_credit_each_chunk_with_its_own_range(tenant, other_tenant):
    # given: seven archived rows, one since made active; three chunks that skip row 3
    # (a chunk not in this message, e.g. one that failed) and another tenant's rows
    rows = [ResourceFactory.create(tenant=tenant.client_model, status="archived") for _ in range(7)]
    theirs = ResourceFactory.create(tenant=other_tenant.client_model, status="archived")
    Resource.objects.filter(pk=rows[1].pk).update(status="active")
    seq = [r.seq for r in rows]
    job, chunks = _delete_job(tenant, [(seq[0], seq[2]), (seq[4], seq[5]), (seq[6], seq[6])])
    # when they go together
    with transaction.atomic():
        outcomes = bulk_delete_chunks(job, chunks)
    # then each chunk counts its own range's matching rows, nothing outside them goes
    assert [(o.successful, o.failed) for o in outcomes] == [(2, 0), (2, 0), (1, 0)]
    left = set(Resource.objects.values_list("pk", flat=True))
    assert left == {rows[1].pk, rows[3].pk, theirs.pk}


def test_soft_delete_chunks_together_mark_rows_and_count_each_once(tenant):
    # given: four archived rows, one already soft-deleted
    rows = [ResourceFactory.create(tenant=tenant.client_model, status="archived") for _ in range(4)]
    Resource.objects.filter(pk=rows[0].pk).update(deleted_at=rows[0].created_at)
    seq = [r.seq for r in rows]
    job, chunks = _delete_job(tenant, [(seq[0], seq[1]), (seq[2], seq[3])], soft=True)
    # when
    with transaction.atomic():
        outcomes = bulk_delete_chunks(job, chunks)
    # then the already deleted row is not counted again, every row is kept
    assert [o.successful for o in outcomes] == [1, 2]
    assert Resource.objects.count() == 4
    assert Resource.objects.filter(deleted_at__isnull=True).count() == 0


def test_the_engine_runs_a_delete_message_as_one_group(tenant):
    # given: a sealed delete job of three chunks over nine archived rows
    rows = [ResourceFactory.create(tenant=tenant.client_model, status="archived") for _ in range(9)]
    seq = [r.seq for r in rows]
    job, chunks = _delete_job(
        tenant, [(seq[0], seq[2]), (seq[3], seq[5]), (seq[6], seq[8])], start=True
    )
    # when the engine applies them as one message
    done = group_run(chunk_ids=[c.pk for c in chunks])
    # then together, each chunk done with its own count, and the job completed
    assert done == "done together: 3 chunks, 9 ok"
    assert [
        (c.status, c.successful) for c in Chunk.objects.filter(job=job).order_by("seq")
    ] == [("done", 3)] * 3
    job.refresh_from_db()
    assert (job.status, job.successful) == ("completed", 9)
    assert not Resource.objects.exists()
