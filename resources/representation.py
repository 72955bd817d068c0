"""How a resource looks on the wire (REST, batch, job results)."""

from __future__ import annotations

from typing import Any

from pcf.timefmt import iso_z
from resources.models import Resource


def resource_data(resource: Resource) -> dict[str, Any]:
    return {
        "id": resource.public_id,
        "name": resource.name,
        "type": resource.type,
        "status": resource.status,
        "metadata": resource.metadata,
        "created_at": iso_z(resource.created_at),
        "updated_at": iso_z(resource.updated_at),
    }
