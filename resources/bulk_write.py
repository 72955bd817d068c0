"""Bulk write services: many resources in one statement, never one query per row.

Used by batch (consecutive creates), bulk JSON and import chunks. Callers validate
first (resources.schemas); these functions only write."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from pcf.models import ApiClient
from resources.models import Resource
from resources.schemas import ResourceCreate
from resources.services import new_resource_id


@dataclass(frozen=True)
class InsertOutcome:
    """Per input position: the created resource, or None when its id was already taken."""

    created: list[Resource | None]


_INSERT_SQL = """
INSERT INTO resources_resource
    (tenant_id, public_id, name, type, status, metadata, created_at, updated_at)
SELECT %s, r.public_id, r.name, r.type, r.status, r.metadata::jsonb, %s, %s
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
    AS r(public_id, name, type, status, metadata)
ON CONFLICT (tenant_id, public_id) DO NOTHING
RETURNING seq, public_id
"""


def resources_insert_many(*, tenant: ApiClient, specs: Sequence[ResourceCreate]) -> InsertOutcome:
    """Insert validated resources in one statement; an id already used in the tenant
    (or twice in `specs`) leaves that position None instead of failing the rest."""
    if not specs:
        return InsertOutcome(created=[])
    now = timezone.now()
    ids = [spec.id or new_resource_id() for spec in specs]
    columns = (
        ids,
        [s.name for s in specs],
        [s.type.value for s in specs],
        [s.status.value for s in specs],
        [json.dumps(s.metadata, separators=(",", ":")) for s in specs],
    )
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, [tenant.pk, now, now, *columns])
        inserted = {public_id: seq for seq, public_id in cursor.fetchall()}
    created: list[Resource | None] = []
    claimed: set[str] = set()
    for public_id, spec in zip(ids, specs, strict=True):
        if public_id not in inserted or public_id in claimed:
            created.append(None)
            continue
        claimed.add(public_id)
        created.append(
            Resource(
                seq=inserted[public_id],
                tenant=tenant,
                public_id=public_id,
                name=spec.name,
                type=spec.type.value,
                status=spec.status.value,
                metadata=spec.metadata,
                created_at=now,
                updated_at=now,
            )
        )
    return InsertOutcome(created=created)
