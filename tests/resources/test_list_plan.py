"""A list page is a bounded index range scan at any depth and tenant size: it never
walks other tenants' rows, nor sorts (docs/benchmarks.md, "Reading back")."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.db import connection

from resources.bulk_write import resources_insert_many, resources_refresh_statistics
from resources.filters import ResourceFilter
from resources.models import Resource
from resources.schemas import parse_create
from resources.selectors import resource_list

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


def test_the_last_page_of_a_tenant_does_not_walk_the_next_tenants_rows(
    tenant, other_tenant
) -> None:
    # given tenant A's 2,000 rows followed by tenant B's 30,000, with fresh statistics
    _fill(tenant.client_model, 2_000)
    _fill(other_tenant.client_model, 30_000)
    resources_refresh_statistics()
    # when A asks for the page after its 1,500th row (500 rows left, limit 500)
    rows = list(Resource.objects.filter(tenant=tenant.client_model).order_by("seq"))
    after = rows[1499].seq
    queryset = Resource.objects.filter(
        tenant=tenant.client_model, deleted_at__isnull=True, seq__gt=after
    ).order_by("seq")[:501]
    plan = _plan(queryset)
    # then the page is read from the (tenant, seq) index: 500 rows, none filtered out
    text = json.dumps(plan)
    assert "resource_live_tenant_seq" in text
    assert '"Sort"' not in text
    removed = sum(int(n) for n in re.findall(r'"Rows Removed by Filter": (\d+)', text))
    assert removed == 0
    assert plan["Actual Rows"] == 500


def test_resource_list_uses_the_same_query(tenant) -> None:
    _fill(tenant.client_model, 1_000)
    page, cursor = resource_list(
        tenant=tenant.client_model, spec=ResourceFilter(), limit=500, cursor=None
    )
    assert len(page) == 500 and cursor is not None
