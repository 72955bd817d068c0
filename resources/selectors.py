"""Reads of resources. Every read is scoped to one tenant and skips soft-deleted rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from pcf.budget import json_size
from pcf.exceptions import NotFound
from pcf.models import ApiClient
from pcf.pagination import CursorScope, cut_page, decode_cursor, encode_cursor
from resources.filters import ResourceFilter, apply_filter
from resources.models import Resource
from resources.parsing import is_valid_id

# Rows read at a time when each is admitted against a budget: at most this many rows
# (64 KiB of metadata each at most) are loaded past the row that stops the read.
ADMIT_CHUNK_ROWS = 50


def live_resources(*, tenant: ApiClient) -> QuerySet[Resource]:
    return Resource.objects.filter(tenant=tenant, deleted_at__isnull=True)


def live_by_id(*, tenant: ApiClient, resource_id: str) -> QuerySet[Resource]:
    """The live resource with this id (0 or 1 row). A malformed id (e.g. with U+0000,
    which PostgreSQL refuses in a query) matches nothing instead of failing with a 500."""
    queryset = live_resources(tenant=tenant)
    return queryset.filter(public_id=resource_id) if is_valid_id(resource_id) else queryset.none()


def resource_get(*, tenant: ApiClient, resource_id: str) -> Resource:
    """Return the live resource, or raise NotFound (also for another tenant's id)."""
    resource = live_by_id(tenant=tenant, resource_id=resource_id).first()
    if resource is None:
        raise NotFound(f"Resource {resource_id!r} not found")
    return resource


def resources_by_ids_within(
    *, tenant: ApiClient, ids: Iterable[str], max_bytes: int
) -> tuple[dict[str, Resource], bool]:
    """The live resources among `ids` in one query (GraphQL's DataLoader), read in pieces
    until their metadata passes `max_bytes`; missing ids are simply absent. Returns
    what was read and whether it is all (False: stopped at the budget)."""
    wanted = [i for i in ids if is_valid_id(i)]
    found: dict[str, Resource] = {}
    read = 0
    rows = live_resources(tenant=tenant).filter(public_id__in=wanted)
    for resource in rows.iterator(chunk_size=ADMIT_CHUNK_ROWS):
        read += json_size(resource.metadata)
        if read > max_bytes:
            return found, False
        found[resource.public_id] = resource
    return found, True


def _cursor_scope(tenant: ApiClient) -> CursorScope:
    # The REST list and a batch's GET share one listing, so one cursor serves both.
    return CursorScope("resources", tenant.pk)


def resource_cursor(*, tenant: ApiClient, seq: int) -> str:
    """The cursor of the page that starts after the row with this `seq`."""
    return encode_cursor(_cursor_scope(tenant), str(seq))


# The page as a range of the (tenant, seq) index of live rows: rows of `tenant` after
# `after`, in seq order. Written as a row comparison with `tenant_id <= tenant`, not
# `tenant_id = tenant AND seq > after`: with that, PostgreSQL may walk the primary key
# from `after` and filter other tenants' rows out, one by one (the last page of a tenant
# followed by a big one took 15 ms and 40,000 rows instead of 0.14 ms; test_list_plan).
# Together the two conditions still mean `tenant_id = tenant` exactly.
_AFTER = '("resources_resource"."tenant_id", "resources_resource"."seq") > (%s, %s)'


def _keyset_page(queryset: QuerySet[Resource], tenant: ApiClient, after: int) -> QuerySet[Resource]:
    # A constant SQL text; the values are parameters.
    after_cursor = RawSQL(_AFTER, [tenant.pk, after], output_field=BooleanField())  # noqa: S611
    return (
        queryset.filter(deleted_at__isnull=True, tenant_id__lte=tenant.pk)
        .filter(after_cursor)
        .order_by("tenant_id", "seq")
    )


def resource_page(
    *, tenant: ApiClient, spec: ResourceFilter, after: int, limit: int
) -> QuerySet[Resource]:
    """The query of one list page: up to `limit` + 1 live rows after sequence `after`
    (the extra row says whether a next page exists). bench/reading.py EXPLAINs it."""
    return _keyset_page(apply_filter(Resource.objects.all(), spec), tenant, after)[: limit + 1]


def resource_list(
    *,
    tenant: ApiClient,
    spec: ResourceFilter,
    limit: int,
    cursor: str | None,
    admit: Callable[[Resource], None] | None = None,
) -> tuple[list[Resource], str | None]:
    """One page in creation order, and the cursor of the next page (None at the end).

    Keyset pagination on the internal sequence: rows inserted while a client pages
    never shift or repeat the rows it has not seen yet. `admit` sees each row of the
    page as it is read (in pieces, from a server-side cursor) and may raise to stop
    reading: a response budget stops before the page is built."""
    after = int(decode_cursor(_cursor_scope(tenant), cursor)) if cursor else 0
    page = resource_page(tenant=tenant, spec=spec, after=after, limit=limit)
    if admit is None:
        rows = list(page)
    else:
        rows = []
        for row in page.iterator(chunk_size=ADMIT_CHUNK_ROWS):
            if len(rows) < limit:
                admit(row)
            rows.append(row)
    return cut_page(rows, limit, _cursor_scope(tenant), lambda row: str(row.seq))
