"""Per-request GraphQL context: the tenant of the bearer token and a DataLoader that
turns every `resource(id:)` / `resources(ids:)` in one request into one query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from strawberry.dataloader import DataLoader

from pcf.models import ApiClient
from resources.models import Resource
from resources.selectors import resources_by_ids

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


def resource_loader(tenant: ApiClient) -> DataLoader[str, Resource | None]:
    """A loader scoped to one tenant: ids of other tenants simply load as None."""

    async def load(ids: list[str]) -> list[Resource | None]:
        found = await sync_to_async(resources_by_ids)(tenant=tenant, ids=ids)
        return [found.get(resource_id) for resource_id in ids]

    return DataLoader(load_fn=load)


@dataclass
class PcfContext:
    request: HttpRequest
    response: HttpResponse
    tenant: ApiClient
    resources: DataLoader[str, Resource | None]
