"""`manage.py create_api_token NAME`: prints only the token, stores only its hash."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from pcf.models import ApiClient

pytestmark = pytest.mark.django_db


def test_prints_only_the_token_and_stores_its_hash() -> None:
    # given no client named "acme"
    out, err = StringIO(), StringIO()
    # when the command runs
    call_command("create_api_token", "acme", stdout=out, stderr=err)
    # then stdout is exactly one line: the token, and stderr is empty
    printed = out.getvalue()
    token = printed.strip()
    assert printed == token + "\n" and " " not in token and token.startswith("pcf_")
    assert err.getvalue() == ""
    # and the client exists with the token's SHA-256, never the token itself
    client = ApiClient.objects.get(name="acme")
    assert client.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (client.token_hash, client.token_hint, client.webhook_secret, client.name)
    # and the printed token works against the API
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}").get("/v1/resources")
    assert response.status_code == 200


def test_each_run_makes_a_new_tenant() -> None:
    # given the command run twice with the same name
    first, second = StringIO(), StringIO()
    call_command("create_api_token", "same", stdout=first)
    call_command("create_api_token", "same", stdout=second)
    # then two clients with different tokens
    assert first.getvalue() != second.getvalue()
    assert ApiClient.objects.filter(name="same").count() == 2


def test_name_is_required() -> None:
    # given no name / when run / then a usage error and no client
    with pytest.raises(CommandError):
        call_command("create_api_token")
    assert not ApiClient.objects.exists()
