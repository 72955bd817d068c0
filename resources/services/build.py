"""The one way to turn a validated create into a Resource object, for the single-row
create (saved afterwards) and the many-row insert (already written, seq known)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from pcf.models import ApiClient
from resources.ids import new_resource_id
from resources.models import Resource
from resources.parsing import ResourceCreate


def resource_build(
    *,
    tenant: ApiClient,
    spec: ResourceCreate,
    public_id: str | None = None,
    now: datetime | None = None,
    seq: int | None = None,
) -> Resource:
    """A Resource from validated input: the spec's id (or `public_id`, or a new one),
    both timestamps `now`; `seq` only when the row is already written."""
    now = now or timezone.now()
    return Resource(
        seq=seq,
        tenant=tenant,
        public_id=public_id or spec.id or new_resource_id(),
        name=spec.name,
        type=spec.type.value,
        status=spec.status.value,
        metadata=spec.metadata,
        created_at=now,
        updated_at=now,
    )
