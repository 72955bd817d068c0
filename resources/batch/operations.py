"""Running one batch operation through the same selectors and services as REST.

`perform` is the REST views' logic without HTTP: the same parse, service call and
representation, so a batch operation answers exactly what the single request would.
`perform_creates` is the fast path for a run of consecutive creates: each body is
validated by the same schema, then all valid ones go in one INSERT."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pcf.exceptions import Conflict, PcfError
from pcf.models import ApiClient
from pcf.pagination import parse_limit
from resources import selectors, services
from resources.batch.routing import Route
from resources.bulk_write import resources_insert_many
from resources.filters import parse_filter
from resources.representation import resource_data
from resources.schemas import ResourceCreate
from resources.views import parse_bool_param

PAGING_KEYS = ("limit", "cursor")


@dataclass(frozen=True)
class OpResult:
    """What one operation answered: a success `body`, or an `error` (status >= 400)."""

    status: int
    body: Any = None
    error: PcfError | None = None

    @property
    def ok(self) -> bool:
        return self.status < 400

    @classmethod
    def failure(cls, error: PcfError) -> OpResult:
        return cls(status=error.http_status, error=error)

    def as_reference(self) -> dict[str, Any]:
        """What `{opN....}` references walk."""
        return {"status": self.status, "body": self.body}


def perform(
    *, tenant: ApiClient, method: str, route: Route, body: Any, soft_delete: bool
) -> OpResult:
    """Run one routed operation; raises the same PcfErrors as the REST endpoint."""
    resource_id = route.resource_id
    if method == "GET" and resource_id is None:
        params = dict(route.query)
        paging = {key: params.pop(key, None) for key in PAGING_KEYS}
        rows, next_cursor = selectors.resource_list(
            tenant=tenant,
            spec=parse_filter(params, ids_from_query=True),
            limit=parse_limit(paging["limit"]),
            cursor=paging["cursor"],
        )
        return OpResult(
            200, {"data": [resource_data(r) for r in rows], "meta": {"next_cursor": next_cursor}}
        )
    if method == "GET" and resource_id is not None:
        resource = selectors.resource_get(tenant=tenant, resource_id=resource_id)
        return OpResult(200, {"data": resource_data(resource)})
    if method == "POST":
        resource = services.resource_create(tenant=tenant, data=body)
        return OpResult(201, {"data": resource_data(resource)})
    if method == "PATCH" and resource_id is not None:
        resource = services.resource_update(tenant=tenant, resource_id=resource_id, data=body)
        return OpResult(200, {"data": resource_data(resource)})
    if method == "DELETE" and resource_id is not None:
        soft = soft_delete or parse_bool_param("soft", route.query.get("soft"))
        services.resource_delete(tenant=tenant, resource_id=resource_id, soft=soft)
        return OpResult(204, None)
    raise AssertionError(f"unroutable {method}")  # check_route allows nothing else


def perform_creates(*, tenant: ApiClient, specs: Sequence[ResourceCreate]) -> list[OpResult]:
    """Insert validated creates in one statement; a taken id is that position's 409."""
    outcome = resources_insert_many(tenant=tenant, specs=specs)
    results: list[OpResult] = []
    for spec, resource in zip(specs, outcome.created, strict=True):
        if resource is None:
            results.append(
                OpResult.failure(Conflict(f"A resource with id {spec.id!r} already exists"))
            )
        else:
            results.append(OpResult(201, {"data": resource_data(resource)}))
    return results
