"""Two imports upserting the same new names at the same time end with one resource per name."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Count

from pcf.models import ApiClient
from resources.models import Resource
from resources.services import RowValues, resources_upsert
from tests.polling import wait_for
from tests.waiting import waiting_on_locks

NAMES = [f"shared-{i}" for i in range(50)]


def upsert_in_thread(
    tenant: ApiClient, names: list[str], out: list[Any], hold: threading.Event | None = None
) -> None:
    """Upsert `names`; with `hold`, keep the transaction (and its locks) open after the
    upsert until `hold` is set."""
    try:
        with transaction.atomic():
            rows = [RowValues(None, n, "document", None, None) for n in names]
            out.extend(resources_upsert(tenant=tenant, key="name", rows=rows))
            if hold is not None:
                hold.wait(timeout=60)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_the_same_new_names_create_each_once() -> None:
    # given: a tenant and two upserts of the same 50 new names, in opposite orders
    tenant, _ = ApiClient.issue("race")
    first: list[str] = []
    second: list[str] = []
    release = threading.Event()
    a = threading.Thread(target=upsert_in_thread, args=(tenant, NAMES, first, release))
    b = threading.Thread(target=upsert_in_thread, args=(tenant, NAMES[::-1], second))
    # when: the second starts once the first has upserted and holds its transaction open,
    # and the first commits only once the second waits on its rows
    a.start()
    wait_for(lambda: first, timeout=60)
    b.start()
    wait_for(lambda: waiting_on_locks() >= 1, timeout=60)
    release.set()
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
