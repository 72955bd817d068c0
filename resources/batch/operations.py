"""Running one batch operation through the same selectors and services as REST.

`perform` is the REST views' logic without HTTP: the same parse, service call and
representation, so a batch operation answers exactly what the single request would.
`perform_creates` is the fast path for a run of consecutive creates: each body is
validated by the same schema, then all valid ones go in one INSERT."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pcf.budget import ResponseBudget, json_size
from pcf.exceptions import Conflict, PcfError, ResponseTooLarge
from pcf.models import ApiClient
from pcf.pagination import parse_limit
from resources import selectors, services
from resources.batch.routing import Route
from resources.filters import parse_filter
from resources.models import Resource
from resources.parsing import ResourceCreate
from resources.representation import resource_data
from resources.services import resources_insert_many
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


class RowCharges:
    """Charges each row a GET reads to the batch's budget (bytes and rows), so the read
    stops at the first row past it; `refund` gives back a refused operation's share."""

    def __init__(self, budget: ResponseBudget) -> None:
        self.budget = budget
        self.bytes = 0
        self.rows = 0

    def __call__(self, resource: Resource) -> None:
        size = json_size(resource_data(resource)) + 1  # and its comma
        self.budget.charge(size, rows=1)
        self.bytes += size
        self.rows += 1

    def refund(self) -> None:
        self.budget.refund(self.bytes, rows=self.rows)


def _read(budget: ResponseBudget, read: Callable[[RowCharges], OpResult]) -> OpResult:
    charges = RowCharges(budget)
    try:
        return read(charges)
    except ResponseTooLarge:
        charges.refund()
        raise


def perform(
    *,
    tenant: ApiClient,
    method: str,
    route: Route,
    body: Any,
    soft_delete: bool,
    budget: ResponseBudget,
) -> OpResult:
    """Run one routed operation; raises the same PcfErrors as the REST endpoint, and
    ResponseTooLarge when its answer would pass `budget` (reads stop before they are
    built; writes do not start once the budget is spent)."""
    resource_id = route.resource_id
    if method == "GET" and resource_id is None:
        params = dict(route.query)
        paging = {key: params.pop(key, None) for key in PAGING_KEYS}

        def read_page(charges: RowCharges) -> OpResult:
            rows, next_cursor = selectors.resource_list(
                tenant=tenant,
                spec=parse_filter(params, ids_from_query=True),
                limit=parse_limit(paging["limit"]),
                cursor=paging["cursor"],
                admit=charges,
            )
            data = [resource_data(r) for r in rows]
            return OpResult(200, {"data": data, "meta": {"next_cursor": next_cursor}})

        return _read(budget, read_page)
    if method == "GET" and resource_id is not None:

        def read_one(charges: RowCharges) -> OpResult:
            resource = selectors.resource_get(tenant=tenant, resource_id=resource_id)
            charges(resource)
            return OpResult(200, {"data": resource_data(resource)})

        return _read(budget, read_one)
    budget.check_open()
    if method == "POST":
        resource = services.resource_create(tenant=tenant, data=body)
        return _spent(budget, OpResult(201, {"data": resource_data(resource)}))
    if method == "PATCH" and resource_id is not None:
        resource = services.resource_update(tenant=tenant, resource_id=resource_id, data=body)
        return _spent(budget, OpResult(200, {"data": resource_data(resource)}))
    if method == "DELETE" and resource_id is not None:
        soft = soft_delete or parse_bool_param("soft", route.query.get("soft"))
        services.resource_delete(tenant=tenant, resource_id=resource_id, soft=soft)
        return OpResult(204, None)
    raise AssertionError(f"unroutable {method}")  # check_route allows nothing else


# What a create's answer adds beyond its body: the server id, status and timestamps.
CREATE_ANSWER_OVERHEAD = 256


def created_size(spec: ResourceCreate) -> int:
    """Bytes the answer to a create of `spec` takes (a bound, known before it runs)."""
    return json_size(spec.model_dump(mode="json")) + CREATE_ANSWER_OVERHEAD


def _spent(budget: ResponseBudget, result: OpResult) -> OpResult:
    budget.spend(json_size(result.body))
    return result


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
