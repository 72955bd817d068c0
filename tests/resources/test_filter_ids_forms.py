"""`ids` forms: comma-separated only in the list's query string (REST and a batch GET),
a JSON array everywhere else (parse_filter's default)."""

from __future__ import annotations

import pytest

from pcf.exceptions import ValidationError
from resources.filters import parse_filter


def test_parse_filter_refuses_a_string_by_default():
    # when / then: a string is not a list of ids
    with pytest.raises(ValidationError) as caught:
        parse_filter({"ids": "a,b"})
    assert caught.value.details == [
        {"field": "ids", "message": "ids must be a JSON array of resource ids"}
    ]


def test_parse_filter_splits_only_from_a_query_string():
    # when
    spec = parse_filter({"ids": "a,b,,c"}, ids_from_query=True)
    # then
    assert spec.ids == ["a", "b", "c"]


def test_parse_filter_takes_a_list_either_way():
    # when / then
    assert parse_filter({"ids": ["a", "b"]}).ids == ["a", "b"]
    assert parse_filter({"ids": ["a"]}, ids_from_query=True).ids == ["a"]


@pytest.mark.django_db
def test_rest_list_query_string_still_splits_commas(api, make):
    # given
    first, second, _third = (make(name=n, type="document") for n in ("a", "b", "c"))
    # when
    response = api.get(f"/v1/resources?ids={first['id']},{second['id']}")
    # then
    assert response.status_code == 200
    assert sorted(r["id"] for r in response.json()["data"]) == sorted([first["id"], second["id"]])


@pytest.mark.django_db
def test_batch_get_list_query_string_still_splits_commas(api, make):
    # given
    first, second = (make(name=n, type="document") for n in ("a", "b"))
    # when: the same list query inside a batch
    path = f"/resources?ids={first['id']},{second['id']}"
    response = api.post(
        "/v1/batch", {"operations": [{"method": "GET", "path": path}]}, format="json"
    )
    # then
    result = response.json()["results"][0]
    assert result["status"] == 200
    assert sorted(r["id"] for r in result["body"]["data"]) == sorted([first["id"], second["id"]])
