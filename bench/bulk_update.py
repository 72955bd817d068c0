"""Bulk update benchmark: RFC 7396 metadata merge done in SQL (one jsonb UPDATE, what
resources.bulk uses) vs merged per row in Python and written with one UPDATE … FROM
unnest (the fallback for rows near the 64 KiB cap), on the same rows, interleaved
rounds, each rolled back. Also times one 1,000-row chunk and plain-field updates.

Run: `.venv/bin/python -m bench.bulk_update [--rows 10000] [--rounds 5]` with
DATABASE_URL set (embedded PostgreSQL when unset); it migrates that database and leaves
one benchmark tenant's rows behind in it (deleted at the end)."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pcf.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from pcf.models import ApiClient  # noqa: E402
from resources.filters import parse_filter  # noqa: E402
from resources.models import Resource  # noqa: E402
from resources.parsing import parse_patch  # noqa: E402
from resources.services import matched_sql as sql  # noqa: E402
from resources.services import merge_in_python, update_rows  # noqa: E402

PATCH = {
    "archived_at": "2024-05-01T10:00:00Z",
    "archived_by": "system",
    "old": None,
    "nested": {"x": 1, "gone": None},
}


def _seed(tenant: ApiClient, rows: int) -> None:
    now = timezone.now()
    Resource.objects.bulk_create(
        [
            Resource(
                tenant=tenant,
                public_id=f"bench_{i}",
                name=f"r{i}",
                type="document",
                status="draft",
                created_at=now,
                updated_at=now,
                metadata={"old": i, "tags": ["a", "b", "c"], "nested": {"gone": 1, "y": "z" * 40}},
            )
            for i in range(rows)
        ],
        batch_size=2000,
    )


def _timed(run: Callable[[], int]) -> tuple[float, int]:
    with transaction.atomic():
        started = time.perf_counter()
        count = run()
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    tenant, _ = ApiClient.issue("bench-bulk-update")
    try:
        _seed(tenant, args.rows)
        spec = parse_filter({"status": "draft"})
        patch = parse_patch({"status": "archived", "metadata": PATCH})
        plain = parse_patch({"status": "archived"})
        seqs = list(Resource.objects.filter(tenant=tenant).values_list("seq", flat=True))

        def in_sql() -> int:
            return update_rows(tenant=tenant, spec=spec, patch=patch).successful

        def in_python() -> int:
            locked = list(
                Resource.objects.filter(tenant=tenant, status="draft")
                .select_for_update()
                .order_by("seq")
                .values_list("seq", flat=True)
            )
            merged, _ = merge_in_python(locked, PATCH)
            return sql.update_metadata_values(
                merged, fields={"status": "archived"}, now=timezone.now()
            )

        def chunk_1000() -> int:
            return update_rows(
                tenant=tenant, spec=spec, patch=patch, seq_range=(seqs[0], seqs[999])
            ).successful

        def plain_fields() -> int:
            return update_rows(tenant=tenant, spec=spec, patch=plain).successful

        lines = {
            "sql merge": in_sql,
            "python merge": in_python,
            "sql merge, 1,000-row chunk": chunk_1000,
            "status only": plain_fields,
        }
        times: dict[str, list[float]] = {name: [] for name in lines}
        for _ in range(args.rounds):
            for name, run in lines.items():
                elapsed, _count = _timed(run)
                times[name].append(elapsed)
        print(f"{args.rows} rows, {args.rounds} interleaved rounds, medians:")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"  {name:28s} {median * 1000:8.1f} ms")
        ratio = statistics.median(times["python merge"]) / statistics.median(times["sql merge"])
        print(f"  python / sql: {ratio:.2f}x")
    finally:
        Resource.objects.filter(tenant=tenant).delete()
        tenant.delete()


if __name__ == "__main__":
    main()
