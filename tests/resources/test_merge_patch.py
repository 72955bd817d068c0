"""RFC 7396 JSON Merge Patch: the function against the RFC's appendix A, and PATCH
/v1/resources/{id} merging `metadata` with it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework.test import APIClient

from resources.merge import merge_patch
from tests.resources.helpers import create

# RFC 7396, Appendix A: (original, patch, result)
APPENDIX_A = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "result"), APPENDIX_A)
def test_rfc_7396_appendix_a(original: Any, patch: Any, result: Any) -> None:
    # given the RFC's original document and patch
    before = copy.deepcopy(original)
    # when merged
    merged = merge_patch(original, patch)
    # then the RFC's result, and the original is not modified in place
    assert merged == result
    assert original == before


def test_deep_merge_does_not_share_nested_objects_with_the_target() -> None:
    # given a nested target
    target = {"a": {"b": {"c": 1}}}
    # when a nested key is added
    merged = merge_patch(target, {"a": {"b": {"d": 2}}})
    # then the target's nested objects are untouched
    assert merged == {"a": {"b": {"c": 1, "d": 2}}}
    assert target == {"a": {"b": {"c": 1}}}


@pytest.mark.django_db
class TestPatchMetadata:
    def patch(self, api: APIClient, resource_id: str, metadata: Any) -> dict[str, Any]:
        response = api.patch(f"/v1/resources/{resource_id}", {"metadata": metadata}, format="json")
        assert response.status_code == 200, response.content
        data: dict[str, Any] = response.json()["data"]["metadata"]
        # what was answered is what is stored
        assert api.get(f"/v1/resources/{resource_id}").json()["data"]["metadata"] == data
        return data

    def test_nested_objects_merge(self, api: APIClient) -> None:
        # given nested metadata
        r = create(api, metadata={"owner": {"name": "Ann", "team": "A"}, "tags": ["x"]})
        # when a nested key is changed and another added
        merged = self.patch(api, r["id"], {"owner": {"team": "B", "email": "a@x"}})
        # then siblings survive at every level
        assert merged == {"owner": {"name": "Ann", "team": "B", "email": "a@x"}, "tags": ["x"]}

    def test_null_removes_keys_at_any_depth(self, api: APIClient) -> None:
        # given nested metadata
        r = create(api, metadata={"a": 1, "b": {"c": 2, "d": 3}})
        # when keys are set to null, one of them missing already
        merged = self.patch(api, r["id"], {"a": None, "b": {"c": None}, "zz": None})
        # then they are removed and the missing one is ignored
        assert merged == {"b": {"d": 3}}

    def test_arrays_are_replaced_not_merged(self, api: APIClient) -> None:
        # given an array value
        r = create(api, metadata={"tags": ["a", "b", "c"], "list": [{"x": 1}]})
        # when patched with shorter arrays
        merged = self.patch(api, r["id"], {"tags": ["z"], "list": [{"y": 2}]})
        # then the arrays are the patch's
        assert merged == {"tags": ["z"], "list": [{"y": 2}]}

    def test_non_object_values_replace_objects_and_back(self, api: APIClient) -> None:
        # given an object value and a scalar value
        r = create(api, metadata={"obj": {"k": 1}, "num": 5})
        # when the object becomes a scalar and the scalar an object
        merged = self.patch(api, r["id"], {"obj": "flat", "num": {"now": "object", "n": None}})
        # then each is replaced (a null inside a new object is dropped, per the RFC)
        assert merged == {"obj": "flat", "num": {"now": "object"}}

    def test_empty_patch_object_changes_nothing(self, api: APIClient) -> None:
        # given metadata / when {} is merged / then unchanged
        r = create(api, metadata={"a": {"b": 1}})
        assert self.patch(api, r["id"], {}) == {"a": {"b": 1}}

    def test_patch_without_metadata_leaves_it_alone(self, api: APIClient) -> None:
        # given metadata / when only the name is patched / then metadata is the same
        r = create(api, metadata={"a": 1})
        response = api.patch(f"/v1/resources/{r['id']}", {"name": "x"}, format="json")
        assert response.json()["data"]["metadata"] == {"a": 1}
