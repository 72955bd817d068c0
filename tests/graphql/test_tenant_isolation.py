"""Every resolver works inside the token's tenant only."""

from __future__ import annotations

from resources.models import Resource
from tests.factories import ResourceFactory


def test_reads_never_see_another_tenant(gql, other_tenant):
    # given: a resource of the other tenant
    theirs = ResourceFactory.create(tenant=other_tenant.client_model, public_id="theirs")
    # when
    body = gql('{ one: resource(id: "theirs") { id } many: resources(ids: ["theirs"]) { id } }')
    # then: as if it did not exist
    assert body == {"data": {"one": None, "many": []}}
    assert theirs.pk


def test_update_of_another_tenants_id_is_not_found(gql, other_tenant):
    # given
    ResourceFactory.create(tenant=other_tenant.client_model, public_id="theirs", status="active")
    # when
    body = gql(
        'mutation { updateResource(id: "theirs", input: {status: ARCHIVED}) { resource { id } } }'
    )
    # then
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert Resource.objects.get(public_id="theirs").status == "active"


def test_create_uses_the_token_tenant_and_ids_are_per_tenant(gql, tenant, other_tenant):
    # given: the other tenant already uses the id
    ResourceFactory.create(tenant=other_tenant.client_model, public_id="same")
    # when
    body = gql(
        'mutation { createResource(input: {id: "same", name: "m", type: OTHER}) '
        "{ resource { id } } }"
    )
    # then
    assert body["data"]["createResource"]["resource"]["id"] == "same"
    assert Resource.objects.get(public_id="same", tenant=tenant.client_model).name == "m"


def test_bulk_delete_never_touches_another_tenant(gql, tenant, other_tenant):
    # given: matching rows in both tenants
    ResourceFactory.create(tenant=tenant.client_model, status="archived")
    for _ in range(2):
        ResourceFactory.create(tenant=other_tenant.client_model, status="archived")
    # when
    body = gql(
        'mutation { bulkDeleteResources(filter: {status: "ARCHIVED"}, dryRun: true) '
        "{ matchedCount } real: bulkDeleteResources(filter: {all: true}) { deletedCount } }"
    )
    # then: only ours counted and deleted
    assert body["data"]["bulkDeleteResources"]["matchedCount"] == 1
    assert body["data"]["real"]["deletedCount"] == 1
    assert Resource.objects.filter(tenant=other_tenant.client_model).count() == 2
