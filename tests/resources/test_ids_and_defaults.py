"""Server-made ids (resources/ids.py) and the table defaults COPY relies on
(resources/migrations/0003_copy_defaults.py)."""

from __future__ import annotations

import re
import time

import pytest
from django.db import DatabaseError, connection, transaction

from resources.ids import (
    ID_BATCH_MAX,
    new_resource_id,
    new_resource_id_batch,
    new_resource_ids,
)
from resources.models import Resource

ID_FORMAT = re.compile(r"res_[0-9a-f]{28}")


def test_ids_have_the_documented_format_and_sort_by_creation_time():
    first = new_resource_id()
    time.sleep(0.002)  # the scenario: a later millisecond, the ids' time part
    second = new_resource_id()
    assert ID_FORMAT.fullmatch(first) and ID_FORMAT.fullmatch(second)
    assert first < second  # time first: new ids land on the right edge of the index


def test_ids_made_together_are_distinct_ascend_and_share_their_time_part():
    ids = new_resource_ids(5000)
    assert len(set(ids)) == 5000
    assert all(ID_FORMAT.fullmatch(i) for i in ids)
    assert len({i[:16] for i in ids}) == 1
    assert ids == sorted(ids)


def test_a_full_batch_numbers_every_id_and_keeps_48_random_bits():
    prefix, tails = new_resource_id_batch(ID_BATCH_MAX)
    ids = [(prefix + tail).decode() for tail in tails]
    assert len(set(ids)) == ID_BATCH_MAX
    assert all(ID_FORMAT.fullmatch(i) for i in ids)
    assert ids == sorted(ids)
    assert [int(tail[:4], 16) for tail in tails] == list(range(ID_BATCH_MAX))
    # the rest is random: all 16 hex digits turn up in every one of its 12 places
    assert all(len({tail[i] for tail in tails}) == 16 for i in range(4, 16))


def test_more_ids_than_a_batch_stay_distinct():
    ids = new_resource_ids(ID_BATCH_MAX + 10)
    assert len(set(ids)) == ID_BATCH_MAX + 10
    assert all(ID_FORMAT.fullmatch(i) for i in ids)


@pytest.mark.parametrize("count", [-1, ID_BATCH_MAX + 1])
def test_a_batch_has_bounds(count):
    with pytest.raises(ValueError):
        new_resource_id_batch(count)
    assert new_resource_id_batch(0)[1] == []


@pytest.mark.django_db(transaction=True)
def test_table_defaults_make_ids_of_the_same_format_in_the_set_tenant(tenant):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pcf.copy_tenant_id', %s, true)", [str(tenant.client_model.pk)]
        )
        cursor.execute(
            "INSERT INTO resources_resource (name, type) VALUES ('a', 'image'), ('b', 'video')"
        )
    rows = list(Resource.objects.filter(tenant=tenant.client_model).order_by("seq"))
    assert [r.name for r in rows] == ["a", "b"]
    assert all(ID_FORMAT.fullmatch(r.public_id) for r in rows)
    assert rows[0].public_id != rows[1].public_id
    assert [(r.status, r.metadata) for r in rows] == [("active", {})] * 2
    assert rows[0].created_at == rows[0].updated_at is not None
    assert abs(int(rows[0].public_id[4:16], 16) / 1000 - rows[0].created_at.timestamp()) < 1


@pytest.mark.django_db(transaction=True)
def test_an_insert_without_a_tenant_fails_rather_than_guessing_one(tenant):
    # In a fresh session the setting does not exist; after a transaction that set it, it
    # reads as '' in that session. Both fail.
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute("INSERT INTO resources_resource (name, type) VALUES ('a', 'image')")
    connection.close()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pcf.copy_tenant_id', '1', true)")
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute("INSERT INTO resources_resource (name, type) VALUES ('a', 'image')")
    assert not Resource.objects.exists()


@pytest.mark.django_db
def test_deleting_a_tenant_deletes_its_resources_without_a_database_foreign_key(
    tenant, other_tenant
):
    for who in (tenant, other_tenant):
        assert (
            who.api.post("/v1/resources", {"name": "x", "type": "image"}, format="json").status_code
            == 201
        )
    tenant.client_model.delete()
    assert list(Resource.objects.values_list("tenant_id", flat=True)) == [
        other_tenant.client_model.pk
    ]
