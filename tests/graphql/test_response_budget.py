"""The response budget in GraphQL (issue 11): root fields past PCF_RESPONSE_MAX_BYTES are
errors with RESPONSE_TOO_LARGE, decided from what the document selects, before the
answer is built; mutations do not start once the budget is spent."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from resources.models import Resource
from tests.factories import ResourceFactory

pytestmark = pytest.mark.django_db

METADATA = {"blob": "x" * 3000}


@pytest.fixture
def ten(tenant: Any) -> list[str]:
    for i in range(10):
        ResourceFactory.create(tenant=tenant.client_model, public_id=f"r{i}", metadata=METADATA)
    return [f"r{i}" for i in range(10)]


def _aliases(ids: list[str], selection: str) -> str:
    return (
        "{ "
        + " ".join(f'a{i}: resource(id: "{rid}") {{ {selection} }}' for i, rid in enumerate(ids))
        + " }"
    )


@override_settings(PCF_RESPONSE_MAX_BYTES=20_000)
def test_fields_past_the_budget_are_errors(gql, ten):
    # when: ten aliases of ~3 KB each (three resources, loaded once) under a 20 KB budget
    body = gql(_aliases(ten[:3] * 3 + ten[:1], "id metadata"))
    # then: the first ones answer, the rest are null with RESPONSE_TOO_LARGE at their path
    data = body["data"]
    answered = [k for k, v in data.items() if v is not None]
    refused = {e["path"][0] for e in body["errors"]}
    assert answered and refused and set(answered) | refused == set(data)
    assert all(e["extensions"]["code"] == "RESPONSE_TOO_LARGE" for e in body["errors"])


@override_settings(PCF_RESPONSE_MAX_BYTES=20_000)
def test_the_budget_counts_what_is_selected(gql, ten):
    # when: the same ten aliases, ids only
    ids = ten[:3] * 3 + ten[:1]
    body = gql(_aliases(ids, "id"))
    # then: all of them fit
    assert "errors" not in body
    assert [v["id"] for v in body["data"].values()] == ids


@override_settings(PCF_RESPONSE_MAX_BYTES=20_000)
def test_what_one_request_loads_is_bounded_too(gql, ten):
    # when: ten distinct resources (~30 KB of metadata to load), ids only
    body = gql(_aliases(ten, "id"))
    # then: the loader stopped at the budget; the ids it did not load are errors
    assert any(v is None for v in body["data"].values())
    assert {e["extensions"]["code"] for e in body["errors"]} == {"RESPONSE_TOO_LARGE"}


@override_settings(PCF_RESPONSE_MAX_BYTES=20_000)
def test_a_list_past_the_budget_is_one_error(gql, ten):
    # when
    body = gql(
        f"{{ many: resources(ids: {ten!r}) {{ ...F }} }} "
        "fragment F on Resource { metadata }".replace("'", '"')
    )
    # then
    assert body["data"] == {"many": None}
    assert body["errors"][0]["extensions"]["code"] == "RESPONSE_TOO_LARGE"


@override_settings(PCF_RESPONSE_MAX_BYTES=20_000)
def test_mutations_do_not_start_once_the_budget_is_spent(gql, ten):
    # given: a mutation whose answers spend the budget (the metadata is echoed)
    big = '{blob: "' + "y" * 12_000 + '"}'
    document = (
        "mutation { "
        f'u0: updateResource(id: "r0", input: {{metadata: {big}}}) {{ resource {{ metadata }} }} '
        f'u1: updateResource(id: "r1", input: {{metadata: {big}}}) {{ resource {{ metadata }} }} '
        'c: createResource(input: {name: "late", type: OTHER}) { resource { id } } }'
    )
    # when
    body = gql(document)
    # then: the first two ran (the budget was not spent before them), the create did not
    assert body["data"]["u0"] is not None and body["data"]["u1"] is not None
    assert body["data"]["c"] is None
    assert body["errors"][0]["extensions"]["code"] == "RESPONSE_TOO_LARGE"
    assert not Resource.objects.filter(name="late").exists()
