"""Two imports upserting the same new names at the same time end with one resource per name."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Count

from pcf.models import ApiClient
from resources.models import Resource
from resources.services import RowValues, resources_upsert

NAMES = [f"shared-{i}" for i in range(50)]


def upsert_in_thread(tenant: ApiClient, names: list[str], hold: float, out: list[Any]) -> None:
    try:
        with transaction.atomic():
            rows = [RowValues(None, n, "document", None, None) for n in names]
            out.extend(resources_upsert(tenant=tenant, key="name", rows=rows))
            if hold:
                # Keep the transaction (and its locks) open while the other one starts.
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_sleep(%s)", [hold])
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_the_same_new_names_create_each_once() -> None:
    # given: a tenant and two upserts of the same 50 new names, in opposite orders
    tenant, _ = ApiClient.issue("race")
    first: list[str] = []
    second: list[str] = []
    a = threading.Thread(target=upsert_in_thread, args=(tenant, NAMES, 0.5, first))
    b = threading.Thread(target=upsert_in_thread, args=(tenant, NAMES[::-1], 0, second))
    # when: the second starts while the first still holds its transaction open
    a.start()
    time.sleep(0.2)
    b.start()
    a.join()
    b.join()
    # then: one resource per name; the later transaction updated what the first created
    counts = (
        Resource.objects.filter(tenant=tenant)
        .values("name")
        .annotate(n=Count("seq"))
        .values_list("n", flat=True)
    )
    assert len(counts) == 50 and set(counts) == {1}
    assert set(first) == {"created"} and set(second) == {"updated"}
