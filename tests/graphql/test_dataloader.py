"""No N+1: every resource lookup in one document is one SELECT on resources."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ResourceFactory


def _resource_selects(queries: CaptureQueriesContext) -> list[str]:
    # The loader reads through a server-side cursor (DECLARE … FOR SELECT), in pieces
    # bounded by the response budget: still one query.
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(("SELECT", "DECLARE")) and '"resources_resource"' in q["sql"]
    ]


def test_aliased_lookups_are_one_query(gql, tenant):
    # given: 50 resources
    ids = [ResourceFactory.create(tenant=tenant.client_model).public_id for _ in range(50)]
    aliases = "\n".join(f'r{i}: resource(id: "{rid}") {{ id name }}' for i, rid in enumerate(ids))
    # when: 50 aliased lookups plus a resources(ids:) in one document
    with CaptureQueriesContext(connection) as queries:
        body = gql(
            f"{{ {aliases}\n many: resources(ids: {ids[:3]!r}) {{ id }} }}".replace("'", '"')
        )
    # then: all found, with a single SELECT on the resources table
    assert "errors" not in body
    assert [body["data"][f"r{i}"]["id"] for i in range(50)] == ids
    assert [r["id"] for r in body["data"]["many"]] == ids[:3]
    assert len(_resource_selects(queries)) == 1


def test_resources_by_ids_is_one_query_in_request_order(gql, tenant):
    # given
    ids = [ResourceFactory.create(tenant=tenant.client_model).public_id for _ in range(20)]
    wanted = [*reversed(ids), "nope_1", ids[0]]
    # when
    with CaptureQueriesContext(connection) as queries:
        body = gql("query($ids: [ID!]!) { resources(ids: $ids) { id } }", {"ids": wanted})
    # then: found ones only, in the order asked, duplicates once
    assert [r["id"] for r in body["data"]["resources"]] == list(reversed(ids))
    assert len(_resource_selects(queries)) == 1


def test_resources_by_ids_caps_the_list(gql, tenant):
    # when: more ids than a page may hold
    body = gql(
        "query($ids: [ID!]!) { resources(ids: $ids) { id } }",
        {"ids": [f"r{i}" for i in range(501)]},
    )
    # then: that field fails with the contract's code, data is kept
    assert body["data"] == {"resources": None}
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"
