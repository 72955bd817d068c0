"""The bulk chunk handlers called directly inside a transaction, as the engine does."""

from __future__ import annotations

from django.db import transaction
from django.test import override_settings

from jobs.models import Chunk
from resources.bulk.handlers import bulk_delete_chunk, bulk_update_chunk
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
