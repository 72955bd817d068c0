"""A list page is a bounded range of the (tenant, seq) index at any depth and tenant
size: it never walks other tenants' rows, nor sorts (docs/benchmarks.md, "Reading back";
resources.selectors._keyset_page)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.db import connection

from resources.filters import ResourceFilter
from resources.models import Resource
from resources.parsing import parse_create
from resources.selectors import _keyset_page, resource_list
from resources.services import resources_insert_many, resources_refresh_statistics

pytestmark = pytest.mark.django_db


def _fill(tenant: Any, count: int) -> None:
    specs = [parse_create({"name": f"r{i}", "type": "document"}) for i in range(1000)]
    for _ in range(count // 1000):
        resources_insert_many(tenant=tenant, specs=specs)


def _plan(queryset: Any) -> dict[str, Any]:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as db:
        db.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        return db.fetchone()[0][0]["Plan"]


@pytest.mark.parametrize("sizes", [(2_000, 30_000), (20_000, 20_000)], ids=["small", "even"])
def test_the_last_page_of_a_tenant_does_not_walk_the_next_tenants_rows(
    tenant, other_tenant, sizes
) -> None:
    # given tenant A's rows followed by tenant B's, with fresh statistics (with the even
    # split, `tenant_id = A AND seq > x` is planned on the primary key, and its last
    # page filters out every row of B)
    mine, theirs = sizes
    _fill(tenant.client_model, mine)
    _fill(other_tenant.client_model, theirs)
    resources_refresh_statistics()
    # when A asks for the page after its last 300 rows
    rows = Resource.objects.filter(tenant=tenant.client_model).order_by("seq")
    after = rows[mine - 301].seq
    plan = _plan(_keyset_page(Resource.objects.all(), tenant.client_model, after)[:501])
    # then it is read from the (tenant, seq) index: those 300 rows, none filtered out
    text = json.dumps(plan)
    assert "resource_live_tenant_seq" in text
    assert '"Sort"' not in text
    assert sum(int(n) for n in re.findall(r'"Rows Removed by Filter": (\d+)', text)) == 0
    assert plan["Actual Rows"] == 300


def test_pages_stay_within_their_tenant(tenant, other_tenant) -> None:
    _fill(tenant.client_model, 1_000)
    _fill(other_tenant.client_model, 1_000)
    seen: list[Resource] = []
    cursor = None
    while True:
        page, cursor = resource_list(
            tenant=tenant.client_model, spec=ResourceFilter(), limit=300, cursor=cursor
        )
        seen.extend(page)
        if cursor is None:
            break
    assert len(seen) == 1_000 and {r.tenant_id for r in seen} == {tenant.client_model.pk}
    assert [r.seq for r in seen] == sorted(r.seq for r in seen)
