"""Django admin for API clients and resources: changelists with search and filters."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from resources.models import Resource
from tests.factories import ResourceFactory

pytestmark = pytest.mark.django_db


def test_api_client_changelist_with_search_and_filter(admin_client: Client, tenant: Any) -> None:
    # given an API client
    # when the changelist is opened, searched and filtered
    plain = admin_client.get("/admin/pcf/apiclient/")
    searched = admin_client.get("/admin/pcf/apiclient/", {"q": "tenant-a"})
    missed = admin_client.get("/admin/pcf/apiclient/", {"q": "no-such-client"})
    filtered = admin_client.get("/admin/pcf/apiclient/", {"is_active__exact": "1"})
    # then every page loads and lists the client only when it matches
    for response in (plain, searched, missed, filtered):
        assert response.status_code == 200
    assert b"tenant-a" in searched.content and b"tenant-a" in filtered.content
    assert b"0 API clients" in missed.content or b"tenant-a" not in missed.content


def test_api_client_change_page_hides_the_secrets(admin_client: Client, tenant: Any) -> None:
    # given an API client
    model = tenant.client_model
    # when its change page is opened
    response = admin_client.get(f"/admin/pcf/apiclient/{model.pk}/change/")
    # then it loads, without the webhook secret, and the token hash is read-only
    assert response.status_code == 200
    assert model.webhook_secret.encode() not in response.content
    assert b'name="token_hash"' not in response.content
    assert tenant.token.encode() not in response.content


def test_resource_changelist_with_search_and_filters(admin_client: Client, tenant: Any) -> None:
    # given resources of two types, one soft-deleted
    doc = ResourceFactory.create(tenant=tenant.client_model, name="Findable doc", type="document")
    ResourceFactory.create(tenant=tenant.client_model, name="A picture", type="image")
    Resource.objects.filter(pk=doc.pk).update(deleted_at=doc.created_at)
    url = "/admin/resources/resource/"
    # when the changelist is opened, searched and filtered each way
    pages = {
        "all": admin_client.get(url),
        "search name": admin_client.get(url, {"q": "Findable"}),
        "search id": admin_client.get(url, {"q": doc.public_id}),
        "type": admin_client.get(url, {"type__exact": "image"}),
        "status": admin_client.get(url, {"status__exact": "active"}),
        "tenant": admin_client.get(url, {"tenant__id__exact": tenant.client_model.pk}),
        "deleted": admin_client.get(url, {"deleted_at__isempty": "0"}),
        "live": admin_client.get(url, {"deleted_at__isempty": "1"}),
    }
    # then every page loads and shows the matching rows
    for name, response in pages.items():
        assert response.status_code == 200, name
    assert b"Findable doc" in pages["search name"].content
    assert b"A picture" not in pages["search name"].content
    assert b"Findable doc" in pages["search id"].content
    assert b"A picture" in pages["type"].content and b"Findable doc" not in pages["type"].content
    assert b"Findable doc" in pages["deleted"].content
    assert b"Findable doc" not in pages["live"].content


def test_resource_change_page_loads(admin_client: Client, tenant: Any) -> None:
    # given a resource / when its change page is opened / then it loads
    resource = ResourceFactory.create(tenant=tenant.client_model, metadata={"k": [1, 2]})
    response = admin_client.get(f"/admin/resources/resource/{resource.pk}/change/")
    assert response.status_code == 200 and resource.public_id.encode() in response.content


def test_admin_needs_a_staff_login(client: Client) -> None:
    # given an anonymous browser / when it opens the admin / then it is sent to log in
    response = client.get("/admin/resources/resource/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
