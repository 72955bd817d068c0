"""Writes to resources. Every write from REST, batch, GraphQL, bulk update/delete or an
import chunk goes through this package, so validation, tenancy and errors are one piece
of code:

- single: one row (create, partial update, delete);
- many: many rows in one statement (batch creates, bulk JSON, import COPY);
- upsert: imports' create-or-update by a natural key (a pure plan, then its writes);
- matched: the rows a filter matches (update-by-query, delete-by-filter);
- build: the one Resource builder the others share.

Callers import from `resources.services`; the modules are the homes of the code."""

from resources.services.build import resource_build
from resources.services.many import (
    VERBATIM_FIELDS,
    InsertOutcome,
    RowValues,
    resources_copy_create,
    resources_copy_verbatim,
    resources_create_rows,
    resources_ids_taken,
    resources_insert_many,
    resources_refresh_statistics,
)
from resources.services.matched import (
    RowFailure,
    UpdateOutcome,
    count_matching,
    delete_rows,
    delete_rows_in_ranges,
    matching,
    merge_in_python,
    update_rows,
)
from resources.services.single import resource_create, resource_delete, resource_update
from resources.services.upsert import (
    CREATED,
    UPDATED,
    UpsertPlan,
    resources_upsert,
    upsert_plan,
)

__all__ = [
    "CREATED",
    "UPDATED",
    "VERBATIM_FIELDS",
    "InsertOutcome",
    "RowFailure",
    "RowValues",
    "UpdateOutcome",
    "UpsertPlan",
    "count_matching",
    "delete_rows",
    "delete_rows_in_ranges",
    "matching",
    "merge_in_python",
    "resource_build",
    "resource_create",
    "resource_delete",
    "resource_update",
    "resources_copy_create",
    "resources_copy_verbatim",
    "resources_create_rows",
    "resources_ids_taken",
    "resources_insert_many",
    "resources_refresh_statistics",
    "resources_upsert",
    "update_rows",
    "upsert_plan",
]
