"""The GraphQL schema: thin resolvers over the same services and selectors as REST.

Resolvers are async so that every `resource(id:)` in a document goes through the
per-request DataLoader (one query for all of them); each write runs the sync REST
service in Django's thread (sync_to_async), one at a time (mutations run serially)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import strawberry
from asgiref.sync import sync_to_async
from django.conf import settings
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from pcf.budget import json_size
from pcf.exceptions import field_error
from resources import services
from resources.bulk.parsing import parse_bulk_delete
from resources.bulk.services import bulk_delete
from resources.graphql.context import PcfContext
from resources.graphql.errors import is_expected
from resources.graphql.limits import DocumentLimits
from resources.graphql.parsing import MAX_BATCHED_OPERATIONS
from resources.graphql.types import (
    DATETIME_Z,
    BulkDeleteError,
    BulkDeletePayload,
    CreateResourceInput,
    ResourceFilter,
    ResourceNode,
    ResourcePayload,
    UpdateResourceInput,
    given,
)

PcfInfo = Info[PcfContext, None]


@strawberry.type
class Query:
    @strawberry.field(description="One live resource of your tenant, or null.")
    async def resource(self, info: PcfInfo, id: strawberry.ID) -> ResourceNode | None:
        found = await info.context.resources.load(str(id))
        if found is None:
            return None
        info.context.budget.charge_read(info, [found])
        return ResourceNode.of(found)

    @strawberry.field(
        description="The live resources among `ids`, in the order asked, unknown ids left "
        "out; one query however many ids (at most PCF_PAGE_SIZE_MAX)."
    )
    async def resources(self, info: PcfInfo, ids: list[strawberry.ID]) -> list[ResourceNode] | None:
        limit = settings.PCF_PAGE_SIZE_MAX
        if len(ids) > limit:
            raise field_error("ids", f"At most {limit} ids per query")
        unique = list(dict.fromkeys(str(i) for i in ids))
        loaded = await info.context.resources.load_many(unique)
        found = [r for r in loaded if r is not None]
        info.context.budget.charge_read(info, found)
        return [ResourceNode.of(r) for r in found]


# Every root field is nullable: one alias's failure nulls that alias only, never `data`.
@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a resource (same validation as POST /resources).")
    async def create_resource(
        self, info: PcfInfo, input: CreateResourceInput
    ) -> ResourcePayload | None:
        tenant = info.context.tenant
        info.context.budget.before_write()
        resource = await sync_to_async(services.resource_create)(tenant=tenant, data=given(input))
        info.context.budget.after_write(info, [resource])
        info.context.resources.prime(resource.public_id, resource, force=True)
        return ResourcePayload(resource=ResourceNode.of(resource))

    @strawberry.mutation(description="Partial update; `metadata` merges (RFC 7396).")
    async def update_resource(
        self, info: PcfInfo, id: strawberry.ID, input: UpdateResourceInput
    ) -> ResourcePayload | None:
        tenant = info.context.tenant
        info.context.budget.before_write()
        resource = await sync_to_async(services.resource_update)(
            tenant=tenant, resource_id=str(id), data=given(input)
        )
        info.context.budget.after_write(info, [resource])
        info.context.resources.prime(resource.public_id, resource, force=True)
        return ResourcePayload(resource=ResourceNode.of(resource))

    @strawberry.mutation(
        description="Delete every resource matching `filter` (the REST bulk-delete service)."
    )
    async def bulk_delete_resources(
        self,
        info: PcfInfo,
        filter: ResourceFilter,
        soft_delete: bool = False,
        dry_run: bool = False,
        limit: int | None = None,
    ) -> BulkDeletePayload | None:
        options: dict[str, Any] = {"soft_delete": soft_delete, "dry_run": dry_run}
        if limit is not None:
            options["limit"] = limit
        spec = given(filter)
        if spec.get("all") is not True:
            # GraphQL's `all: Boolean` may be false or null, meaning "not all"; the REST
            # filter takes `all` only as true.
            spec.pop("all", None)
        request = parse_bulk_delete({"filter": spec, "options": options})
        info.context.budget.before_write()
        outcome = await sync_to_async(bulk_delete)(tenant=info.context.tenant, request=request)
        info.context.budget.budget.spend(json_size(outcome.deleted_ids))
        info.context.resources.clear_all()  # deleted rows must not load from the cache
        return BulkDeletePayload(
            deleted_count=len(outcome.deleted_ids),
            deleted_ids=[strawberry.ID(i) for i in outcome.deleted_ids],
            errors=[BulkDeleteError(id=None, message=m) for m in outcome.errors],
            matched_count=outcome.matched_count,
            job_id=strawberry.ID(outcome.job.id) if outcome.job is not None else None,
        )


logger = logging.getLogger("pcf.graphql")


class PcfSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Client mistakes are answers, not incidents: log only the unexpected ones.
        for error in errors:
            if not is_expected(error):
                logger.error("graphql resolver failed", exc_info=error.original_error)


schema = PcfSchema(
    query=Query,
    mutation=Mutation,
    extensions=[DocumentLimits],
    config=StrawberryConfig(
        batching_config={"max_operations": MAX_BATCHED_OPERATIONS},
        scalar_map={datetime: DATETIME_Z},
    ),
)
