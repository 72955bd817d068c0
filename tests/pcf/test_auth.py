"""Bearer-token authentication: tokens name the tenant, are stored hashed, and only an
active client's exact token gets in."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from rest_framework.test import APIClient

from pcf.auth import client_from_header
from pcf.exceptions import Unauthenticated
from pcf.models import ApiClient
from tests.resources.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_issued_token_authenticates_as_its_tenant(tenant: Any) -> None:
    # given an issued token
    # when its header is resolved
    client = client_from_header(f"Bearer {tenant.token}")
    # then it is that tenant
    assert client.pk == tenant.client_model.pk


def test_scheme_is_case_insensitive_and_spaces_are_trimmed(tenant: Any) -> None:
    # given the header spelled differently / when resolved / then same tenant
    assert client_from_header(f"bearer {tenant.token}").pk == tenant.client_model.pk
    assert client_from_header(f"BEARER   {tenant.token}  ").pk == tenant.client_model.pk


def test_only_the_hash_is_stored(tenant: Any) -> None:
    # given an issued token
    row = ApiClient.objects.get(pk=tenant.client_model.pk)
    # when the stored row is read
    stored = [str(getattr(row, f.attname)) for f in ApiClient._meta.concrete_fields]
    # then the token appears nowhere, only its SHA-256 and a short hint
    assert all(tenant.token not in value for value in stored)
    assert row.token_hash == hashlib.sha256(tenant.token.encode()).hexdigest()
    assert tenant.token.startswith(row.token_hint) and len(row.token_hint) < len(tenant.token) // 2


def test_tokens_are_unique_and_random() -> None:
    # given many issued tokens / then no two are alike and they are long
    tokens = {ApiClient.issue(f"c{i}")[1] for i in range(20)}
    assert len(tokens) == 20 and all(len(t) >= 40 and t.startswith("pcf_") for t in tokens)


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Token x", "Basic dXNlcjpwYXNz", "pcf_abc"]
)
def test_missing_or_malformed_headers_are_refused(header: str | None) -> None:
    # given a missing or malformed header / when resolved / then Unauthenticated
    with pytest.raises(Unauthenticated):
        client_from_header(header)


def test_a_token_with_a_changed_character_is_refused(tenant: Any) -> None:
    # given a real token with its last character changed
    wrong = tenant.token[:-1] + ("A" if tenant.token[-1] != "A" else "B")
    # when used
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {wrong}").get("/v1/resources")
    # then 401
    assert_error(response, 401, "UNAUTHENTICATED")


def test_a_deactivated_client_is_refused(tenant: Any) -> None:
    # given a client that worked
    assert tenant.api.get("/v1/resources").status_code == 200
    # when it is deactivated
    ApiClient.objects.filter(pk=tenant.client_model.pk).update(is_active=False)
    # then its token no longer gets in
    response = tenant.api.get("/v1/resources")
    assert_error(response, 401, "UNAUTHENTICATED")
    assert response["WWW-Authenticate"] == 'Bearer realm="pcf"'


def test_the_hash_itself_is_not_a_token(tenant: Any) -> None:
    # given someone who read the stored hash / when they present it / then 401
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {tenant.client_model.token_hash}").get(
        "/v1/resources"
    )
    assert_error(response, 401, "UNAUTHENTICATED")


def test_writes_belong_to_the_tokens_tenant(tenant: Any, other_tenant: Any) -> None:
    # given two tenants / when each creates a resource
    a = tenant.api.post("/v1/resources", {"name": "a", "type": "other"}, format="json")
    b = other_tenant.api.post("/v1/resources", {"name": "b", "type": "other"}, format="json")
    # then each row belongs to the tenant whose token made it
    from resources.models import Resource

    assert (
        Resource.objects.get(public_id=a.json()["data"]["id"]).tenant_id == tenant.client_model.pk
    )
    assert (
        Resource.objects.get(public_id=b.json()["data"]["id"]).tenant_id
        == other_tenant.client_model.pk
    )
