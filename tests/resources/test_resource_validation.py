"""Every validation limit of a resource, on create and on patch (API.md: Resources,
Settled details). Each failure is a 400 VALIDATION_ERROR naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from resources.models import Resource
from resources.parsing import json_depth
from tests.resources.helpers import assert_error, create, fields_of

pytestmark = pytest.mark.django_db

LIMIT = 64 * 1024


def compact_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def metadata_of_size(size: int, filler: str = "x") -> dict[str, str]:
    """An object whose compact UTF-8 JSON is exactly `size` bytes."""
    overhead = compact_size({"k": ""})
    unit = len(filler.encode())
    count, rest = divmod(size - overhead, unit)
    value = {"k": filler * count + "x" * rest}
    assert compact_size(value) == size
    return value


def nested(depth: int) -> dict[str, Any]:
    """Objects nested `depth` deep: {"a": 1} is 1."""
    value: dict[str, Any] = {"a": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    assert json_depth(value) == depth
    return value


def post(api: APIClient, **overrides: Any) -> Any:
    body = {"name": "R", "type": "document", **overrides}
    return api.post("/v1/resources", body, format="json")


def invalid_field(response: Any, field: str) -> str:
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in fields_of(error), error
    return next(d["message"] for d in error["details"] if d["field"] == field)


# --- name -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "n" * 255, "é" * 255, "名前"])
def test_name_of_1_to_255_characters_passes(api: APIClient, name: str) -> None:
    # given a name within 1-255 characters (characters, not bytes)
    # when the resource is created
    response = post(api, name=name)
    # then it is stored as given
    assert response.status_code == 201 and response.json()["data"]["name"] == name


@pytest.mark.parametrize("name", ["", "n" * 256, "é" * 256])
def test_name_outside_1_to_255_characters_fails(api: APIClient, name: str) -> None:
    # given an empty or 256-character name
    # when the resource is created
    response = post(api, name=name)
    # then 400 on `name` and nothing is stored
    invalid_field(response, "name")
    assert not Resource.objects.exists()


@pytest.mark.parametrize("name", [123, None, ["a"], {"a": 1}, True])
def test_name_that_is_not_a_string_fails(api: APIClient, name: Any) -> None:
    # given a name that is not a string
    # when the resource is created
    response = post(api, name=name)
    # then 400 on `name`
    invalid_field(response, "name")


def test_name_with_a_nul_character_fails_cleanly(api: APIClient) -> None:
    # given a name containing U+0000, which PostgreSQL text cannot store
    # when the resource is created
    response = post(api, name="a\x00b")
    # then a 400 on `name`, not a 500
    invalid_field(response, "name")


def test_missing_name_and_type_are_both_reported(api: APIClient) -> None:
    # given a body with neither required field
    # when it is posted
    response = api.post("/v1/resources", {"status": "active"}, format="json")
    # then both are listed
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert sorted(fields_of(error)) == ["name", "type"]


# --- enums ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["document", "image", "video", "audio", "other"])
def test_every_type_value_passes(api: APIClient, value: str) -> None:
    # given each allowed type / when created / then accepted
    assert post(api, type=value).status_code == 201


@pytest.mark.parametrize("value", ["draft", "active", "published", "archived"])
def test_every_status_value_passes(api: APIClient, value: str) -> None:
    # given each allowed status / when created / then accepted
    response = post(api, status=value)
    assert response.status_code == 201 and response.json()["data"]["status"] == value


@pytest.mark.parametrize("field", ["type", "status"])
@pytest.mark.parametrize("value", ["spreadsheet", "DOCUMENT", "", 1, None])
def test_unknown_enum_values_fail(api: APIClient, field: str, value: Any) -> None:
    # given a value outside the enum (enums are lower-case on REST)
    # when the resource is created
    response = post(api, **{field: value})
    # then 400 on that field
    invalid_field(response, field)


def test_enum_error_lists_the_allowed_values(api: APIClient) -> None:
    # given a bad type / when created
    message = invalid_field(post(api, type="pdf"), "type")
    # then the message tells the allowed values
    assert "document" in message and "other" in message


# --- metadata ---------------------------------------------------------------------------


def test_metadata_exactly_64_kib_passes(api: APIClient) -> None:
    # given metadata of exactly 65,536 bytes as compact JSON
    metadata = metadata_of_size(LIMIT)
    # when created
    response = post(api, metadata=metadata)
    # then it is accepted and stored whole
    assert response.status_code == 201
    assert response.json()["data"]["metadata"] == metadata


def test_metadata_one_byte_over_64_kib_fails(api: APIClient) -> None:
    # given metadata of 65,537 bytes
    metadata = metadata_of_size(LIMIT + 1)
    # when created
    response = post(api, metadata=metadata)
    # then 400 on metadata
    invalid_field(response, "metadata")


def test_metadata_size_counts_utf8_bytes_not_characters(api: APIClient) -> None:
    # given metadata made of 2-byte characters: far fewer characters than bytes
    at_limit = metadata_of_size(LIMIT, filler="é")
    over = metadata_of_size(LIMIT + 1, filler="é")
    assert len(json.dumps(over, ensure_ascii=False)) < LIMIT
    # when each is created
    # then exactly the limit in bytes passes, one byte more fails
    assert post(api, metadata=at_limit).status_code == 201
    invalid_field(post(api, metadata=over), "metadata")


def test_metadata_size_ignores_insignificant_whitespace(api: APIClient) -> None:
    # given metadata of many keys, exactly 64 KiB compact, sent pretty-printed (much larger)
    metadata: dict[str, str] = {f"k{i:04d}": "v" for i in range(2000)}
    metadata["pad"] = ""
    metadata["pad"] = "x" * (LIMIT - compact_size(metadata))
    assert compact_size(metadata) == LIMIT
    body = json.dumps({"name": "R", "type": "document", "metadata": metadata}, indent=4)
    assert len(body) > LIMIT + 10_000
    # when posted as raw JSON
    response = api.generic("POST", "/v1/resources", body, content_type="application/json")
    # then it is judged by its compact size only
    assert response.status_code == 201, response.content


def test_metadata_10_levels_deep_passes(api: APIClient) -> None:
    # given objects nested 10 deep (a flat object being 1)
    # when created / then accepted
    assert post(api, metadata=nested(10)).status_code == 201


def test_metadata_11_levels_deep_fails(api: APIClient) -> None:
    # given objects nested 11 deep
    # when created
    message = invalid_field(post(api, metadata=nested(11)), "metadata")
    # then the message mentions the depth
    assert "11" in message


def test_arrays_count_as_levels(api: APIClient) -> None:
    # given {"a": [[[...]]]}: one object and ten arrays = 11 levels
    value: Any = 1
    for _ in range(10):
        value = [value]
    too_deep = {"a": value}
    fits = {"a": value[0]}
    # when each is created / then 10 levels pass and 11 fail
    assert post(api, metadata=fits).status_code == 201
    invalid_field(post(api, metadata=too_deep), "metadata")


@pytest.mark.parametrize("metadata", [[1, 2], "text", 3, True])
def test_metadata_that_is_not_an_object_fails(api: APIClient, metadata: Any) -> None:
    # given metadata that is a list or scalar
    # when created / then 400 on metadata
    invalid_field(post(api, metadata=metadata), "metadata")


@pytest.mark.parametrize("metadata", [{"k": "a\x00"}, {"a\x00": 1}, {"k": [{"x": "\x00"}]}])
def test_metadata_with_nul_characters_fails_cleanly(api: APIClient, metadata: Any) -> None:
    # given metadata holding U+0000, which jsonb cannot store
    # when created
    # then a 400 on metadata, not a 500
    invalid_field(post(api, metadata=metadata), "metadata")


def test_metadata_with_a_lone_surrogate_fails_cleanly(api: APIClient) -> None:
    # given metadata with a lone UTF-16 surrogate (valid JSON escape, invalid Unicode)
    body = '{"name": "R", "type": "document", "metadata": {"k": "\\ud800"}}'
    # when posted
    response = api.generic("POST", "/v1/resources", body, content_type="application/json")
    # then a 400 on metadata
    invalid_field(response, "metadata")


# --- unknown fields ---------------------------------------------------------------------


def test_unknown_fields_on_create_fail(api: APIClient) -> None:
    # given a body with two unknown fields
    # when created
    response = post(api, colour="red", created_at="2024-01-01T00:00:00Z")
    # then each is named as unknown and nothing is stored
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert sorted(fields_of(error)) == ["colour", "created_at"]
    assert not Resource.objects.exists()


# --- client ids -------------------------------------------------------------------------


@pytest.mark.parametrize("client_id", ["a", "A-b_9", "x" * 64, "existing_123", "res_mine"])
def test_client_ids_of_1_to_64_allowed_characters_pass(api: APIClient, client_id: str) -> None:
    # given a well-formed client id / when created
    response = post(api, id=client_id)
    # then the resource carries it
    assert response.status_code == 201 and response.json()["data"]["id"] == client_id


@pytest.mark.parametrize(
    "client_id",
    [
        "",
        "x" * 65,
        "a b",
        "a/b",
        "a.b",
        "été",
        "\uff46\uff55\uff4c\uff4c",
        "a\nb",
        "abc\n",
        "a%00",
        12,
        True,
    ],
)
def test_malformed_client_ids_fail(api: APIClient, client_id: Any) -> None:
    # given an empty, too long, non-ASCII or non-string id
    # when created
    # then 400 on `id`
    invalid_field(post(api, id=client_id), "id")


def test_null_client_id_means_server_generated(api: APIClient) -> None:
    # given "id": null / when created / then the server picks an id
    response = post(api, id=None)
    assert response.status_code == 201 and response.json()["data"]["id"].startswith("res_")


def test_duplicate_client_id_is_409_conflict(api: APIClient) -> None:
    # given a resource with a client id
    create(api, id="dup-1", name="First")
    # when another is created with the same id
    response = post(api, id="dup-1", name="Second")
    # then 409 CONFLICT and the first one is untouched
    assert_error(response, 409, "CONFLICT")
    assert Resource.objects.get(public_id="dup-1").name == "First"


def test_id_of_a_soft_deleted_resource_stays_taken(api: APIClient) -> None:
    # given a soft-deleted resource with a client id
    create(api, id="gone-1")
    assert api.delete("/v1/resources/gone-1?soft=true").status_code == 204
    # when its id is used again
    response = post(api, id="gone-1")
    # then 409 CONFLICT
    assert_error(response, 409, "CONFLICT")


# --- patch ------------------------------------------------------------------------------


def patch(api: APIClient, resource_id: str, body: Any) -> Any:
    return api.patch(f"/v1/resources/{resource_id}", body, format="json")


def test_patch_metadata_null_fails(api: APIClient) -> None:
    # given a resource with metadata
    created = create(api, metadata={"a": 1})
    # when metadata is patched to null
    response = patch(api, created["id"], {"metadata": None})
    # then 400 on metadata and the metadata is unchanged
    invalid_field(response, "metadata")
    assert Resource.objects.get(public_id=created["id"]).metadata == {"a": 1}


@pytest.mark.parametrize("field", ["name", "type", "status"])
def test_patch_required_fields_to_null_fails(api: APIClient, field: str) -> None:
    # given a resource / when a field is patched to null / then 400 on it
    created = create(api)
    invalid_field(patch(api, created["id"], {field: None}), field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "n" * 256}, "name"),
        ({"name": 5}, "name"),
        ({"type": "pdf"}, "type"),
        ({"status": "deleted"}, "status"),
        ({"metadata": [1]}, "metadata"),
        ({"metadata": "x"}, "metadata"),
        ({"metadata": nested(11)}, "metadata"),
        ({"metadata": metadata_of_size(LIMIT + 1)}, "metadata"),
        ({"id": "new-id"}, "id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_patch_validation(api: APIClient, body: dict[str, Any], field: str) -> None:
    # given a resource
    created = create(api, name="Keep")
    # when an invalid patch is sent
    response = patch(api, created["id"], body)
    # then 400 on that field and nothing changed
    invalid_field(response, field)
    stored = Resource.objects.get(public_id=created["id"])
    assert stored.name == "Keep" and stored.metadata == {}


def test_patch_whose_merged_metadata_exceeds_64_kib_fails(api: APIClient) -> None:
    # given a resource whose metadata takes 40 KB
    created = create(api, metadata={"a": "x" * 40_000})
    # when a patch of 40 KB more is merged in (each part alone is within the limit)
    response = patch(api, created["id"], {"metadata": {"b": "y" * 40_000}})
    # then the result would be over 64 KiB: 400, and the stored metadata is unchanged
    invalid_field(response, "metadata")
    assert set(Resource.objects.get(public_id=created["id"]).metadata) == {"a"}


def test_patch_replacing_large_metadata_within_the_limit_passes(api: APIClient) -> None:
    # given a resource whose metadata takes 40 KB
    created = create(api, metadata={"a": "x" * 40_000})
    # when the large key is removed and another large one added in the same patch
    response = patch(api, created["id"], {"metadata": {"a": None, "b": "y" * 40_000}})
    # then the merged result fits and is stored
    assert response.status_code == 200
    assert set(response.json()["data"]["metadata"]) == {"b"}


def test_patch_body_that_is_not_an_object_fails(api: APIClient) -> None:
    # given a resource / when a JSON list is patched / then 400
    created = create(api)
    assert_error(patch(api, created["id"], [{"name": "x"}]), 400, "VALIDATION_ERROR")
