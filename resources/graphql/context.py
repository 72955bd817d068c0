"""Per-request GraphQL context: the tenant of the bearer token and a DataLoader that
turns every `resource(id:)` / `resources(ids:)` in one request into one query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.conf import settings
from strawberry.dataloader import DataLoader

from pcf.exceptions import ResponseTooLarge
from pcf.models import ApiClient
from resources.graphql.budget import GraphQLBudget
from resources.models import Resource
from resources.selectors import resources_by_ids_within

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


def resource_loader(tenant: ApiClient) -> DataLoader[str, Resource | None]:
    """A loader scoped to one tenant: ids of other tenants simply load as None.

    What one request loads is bounded like its answer (PCF_RESPONSE_MAX_BYTES of
    metadata): 500 aliases of 500 distinct ids would otherwise load 250,000 rows at
    once. Past it, the ids not loaded fail with RESPONSE_TOO_LARGE."""

    async def load(ids: list[str]) -> list[Resource | BaseException | None]:
        found, complete = await sync_to_async(resources_by_ids_within)(
            tenant=tenant, ids=ids, max_bytes=int(settings.PCF_RESPONSE_MAX_BYTES)
        )
        missing: Resource | BaseException | None = (
            None
            if complete
            else ResponseTooLarge(
                "Loading these resources would pass the response budget (PCF_RESPONSE_MAX_BYTES)"
            )
        )
        return [found.get(resource_id, missing) for resource_id in ids]

    return DataLoader(load_fn=load)


@dataclass
class PcfContext:
    request: HttpRequest
    response: HttpResponse
    tenant: ApiClient
    resources: DataLoader[str, Resource | None]
    budget: GraphQLBudget = field(default_factory=GraphQLBudget)
