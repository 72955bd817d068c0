"""One-row writes: create, partial update, delete. REST, batch and GraphQL call these."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from pcf.exceptions import Conflict, NotFound, field_error
from pcf.models import ApiClient
from resources.merge import merge_patch
from resources.models import Resource
from resources.parsing import ResourcePatch, check_metadata, parse_create, parse_patch
from resources.selectors import live_by_id
from resources.services.build import resource_build


def resource_create(*, tenant: ApiClient, data: Any) -> Resource:
    """Validate and insert one resource. Raises ValidationError, or Conflict for a used id."""
    resource = resource_build(tenant=tenant, spec=parse_create(data))
    try:
        # A savepoint, so a conflict leaves an enclosing (atomic batch) transaction usable.
        with transaction.atomic():
            resource.save(force_insert=True)
    except IntegrityError:
        raise Conflict(f"A resource with id {resource.public_id!r} already exists") from None
    return resource


def apply_patch(resource: Resource, patch: ResourcePatch) -> None:
    if patch.name is not None:
        resource.name = patch.name
    if patch.type is not None:
        resource.type = patch.type.value
    if patch.status is not None:
        resource.status = patch.status.value
    if patch.metadata is not None:
        merged = merge_patch(resource.metadata, patch.metadata)
        # The limits hold for the stored result too: two halves may each fit but not together.
        try:
            check_metadata(merged)
        except ValueError as exc:
            raise field_error("metadata", str(exc)) from None
        resource.metadata = merged
    resource.updated_at = timezone.now()


@transaction.atomic
def resource_update(*, tenant: ApiClient, resource_id: str, data: Any) -> Resource:
    """Apply a partial update (metadata by RFC 7396 merge) under a row lock."""
    patch = parse_patch(data)
    resource = live_by_id(tenant=tenant, resource_id=resource_id).select_for_update().first()
    if resource is None:
        raise NotFound(f"Resource {resource_id!r} not found")
    apply_patch(resource, patch)
    resource.save()
    return resource


@transaction.atomic
def resource_delete(*, tenant: ApiClient, resource_id: str, soft: bool = False) -> None:
    """Delete, or with `soft` mark deleted (the id stays taken). NotFound if not live."""
    queryset = live_by_id(tenant=tenant, resource_id=resource_id)
    if soft:
        now = timezone.now()
        changed = queryset.update(deleted_at=now, updated_at=now)
    else:
        changed, _ = queryset.delete()
    if not changed:
        raise NotFound(f"Resource {resource_id!r} not found")
