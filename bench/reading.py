"""Reading back what was imported, and changing it in bulk, at a million rows a tenant.

    BENCH_READ_ROWS=1000000 BENCH_READ_FILLER=2400000 python -m bench.reading

Seeds one tenant with BENCH_READ_ROWS resources (half `draft`) after BENCH_READ_FILLER
rows of another tenant, and a twin tenant with the same rows for the raw-SQL baselines.
Then, in one run:
- list pages: PostgreSQL execution time of the page query (EXPLAIN ANALYZE) at the
  start, the middle and the end of the tenant, with the plan; and pages fetched over
  HTTP from a real server, at the start and deep in the tenant;
- update-by-query (`POST /v1/bulk-update/resources`, run as a job on 2 worker
  processes) of the draft half, against one raw SQL UPDATE of the twin's same rows;
- delete-by-filter (`POST /v1/bulk-delete/resources`) of those rows, against one raw
  SQL DELETE of the twin's.
Results are printed and written to bench/results/reading-<time>.json."""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.imports import RESULTS, Stack, machine, setup_django

PATCH = {"archived_by": "bench", "reason": "retention"}


def _seed(tenant_id: int, rows: int, prefix: str) -> None:
    """COPY `rows` resources for the tenant (fast, as an import would)."""
    from django.db import connection

    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY resources_resource (tenant_id, public_id, name, type, status, metadata,"
            " created_at, updated_at) FROM STDIN"
        ) as copy,
    ):
        for i in range(rows):
            status = "draft" if i % 2 == 0 else "active"
            copy.write_row(
                (
                    tenant_id,
                    f"{prefix}{i:09d}",
                    f"Resource {i}",
                    "document",
                    status,
                    json.dumps({"n": i, "source": "bench"}),
                    "2026-01-01T00:00:00Z",
                    "2026-01-01T00:00:00Z",
                )
            )


def _page_sql(tenant_id: int, after: int) -> tuple[str, list[Any]]:
    """The SQL of a 500-row GET /v1/resources page: the API's own query, not a copy."""
    from pcf.models import ApiClient
    from resources.filters import ResourceFilter
    from resources.selectors import resource_page

    tenant = ApiClient.objects.get(pk=tenant_id)
    queryset = resource_page(tenant=tenant, spec=ResourceFilter(), after=after, limit=500)
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def _explain(tenant_id: int, after: int) -> dict[str, Any]:
    from django.db import connection

    sql, params = _page_sql(tenant_id, after)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0][0]
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        text = "\n".join(row[0] for row in cursor.fetchall())
    return {
        "execution_ms": plan["Execution Time"],
        "planning_ms": plan["Planning Time"],
        "plan": text,
    }


def _seqs(tenant_id: int) -> tuple[int, int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(seq), percentile_disc(0.5) WITHIN GROUP (ORDER BY seq), max(seq)"
            " FROM resources_resource WHERE tenant_id = %s",
            [tenant_id],
        )
        return tuple(int(v) for v in cursor.fetchone())  # type: ignore[return-value]


def _pages(client: Any, cursor: str | None, count: int) -> float:
    """Median ms per page of `count` consecutive 500-row pages from `cursor`."""
    times = []
    for _ in range(count):
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        started = time.perf_counter()
        answer = client.get("/v1/resources", params=params)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
        cursor = answer.json()["meta"]["next_cursor"]
        if cursor is None:
            break
    return statistics.median(times)


def _wait_job(client: Any, job_id: str) -> dict[str, Any]:
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        time.sleep(0.05)


def _timed_sql(sql: str, params: list[Any]) -> tuple[float, int]:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        count = cursor.rowcount
    return time.perf_counter() - started, count


def _chunk_timings(job_id: str) -> dict[str, Any]:
    """Where a bulk job's time went: its chunks' own durations against the whole."""
    from jobs.models import Job

    job = Job.objects.get(pk=job_id)
    durations = sorted(job.chunks.values_list("duration_ms", flat=True))
    ends = sorted(job.chunks.values_list("finished_at", flat=True))
    return {
        "chunks": len(durations),
        "chunk_p50_ms": durations[len(durations) // 2],
        "chunk_sum_s": round(sum(durations) / 1000, 2),
        "first_chunk_done_s": round((ends[0] - job.created_at).total_seconds(), 2),
        "last_chunk_done_s": round((ends[-1] - job.created_at).total_seconds(), 2),
    }


def _timed_job(client: Any, path: str, body: dict[str, Any]) -> tuple[float, int, dict[str, Any]]:
    """Seconds and rows of a bulk change, with its chunk timings: a job (202) waited
    for, or a direct answer when the matched set is under PCF_BULK_SYNC_LIMIT."""
    started = time.perf_counter()
    answer = client.post(path, json=body)
    assert answer.status_code in (200, 202), answer.text
    if answer.status_code == 200:
        data = answer.json()
        count = data.get("updated_count", data.get("deleted_count"))
        return time.perf_counter() - started, int(count), {}
    job = _wait_job(client, answer.json()["job_id"])
    seconds = time.perf_counter() - started
    assert job["status"] == "completed", job
    return seconds, int(job["progress"]["successful"]), _chunk_timings(job["id"])


def main() -> None:
    setup_django()
    import httpx
    from django.core.management import call_command
    from django.db import connection

    from pcf.models import ApiClient
    from resources.selectors import resource_cursor
    from resources.services import resources_refresh_statistics

    rows = int(os.environ.get("BENCH_READ_ROWS", "1000000"))
    filler = int(os.environ.get("BENCH_READ_FILLER", str(rows * 24 // 10)))
    call_command("migrate", verbosity=0)
    other, _ = ApiClient.issue("bench-read-filler")
    tenant, token = ApiClient.issue("bench-read")
    twin, _ = ApiClient.issue("bench-read-raw")
    results: dict[str, Any] = {"rows": rows, "filler": filler, "machine": machine()}
    stack = None
    try:
        started = time.perf_counter()
        _seed(other.pk, filler, "f")
        _seed(tenant.pk, rows, "t")
        _seed(twin.pk, rows, "r")
        resources_refresh_statistics()
        results["seed_s"] = round(time.perf_counter() - started, 1)
        first, middle, last = _seqs(tenant.pk)
        results["explain"] = {
            "first page": _explain(tenant.pk, first - 1),
            "middle page": _explain(tenant.pk, middle),
            "last page": _explain(tenant.pk, last - 250),
        }
        stack = Stack()
        headers = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{stack.port}"
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            from_middle = resource_cursor(tenant=tenant, seq=middle)
            results["http_page_ms"] = {
                "first 20 pages": round(_pages(client, None, 20), 1),
                "20 pages from the middle": round(_pages(client, from_middle, 20), 1),
            }
            update = {
                "filter": {"status": "draft"},
                "update": {"status": "archived", "metadata": PATCH},
            }
            raw_update = (
                "UPDATE resources_resource SET status = 'archived', metadata = metadata || %s,"
                " updated_at = now() WHERE tenant_id = %s AND status = 'draft'"
                " AND deleted_at IS NULL"
            )
            raw_s, raw_n = _timed_sql(raw_update, [json.dumps(PATCH), twin.pk])
            pcf_s, pcf_n, timings = _timed_job(client, "/v1/bulk-update/resources", update)
            results["bulk_update"] = {
                "rows": pcf_n, "raw_rows": raw_n, "raw_s": round(raw_s, 2),
                "pcf_s": round(pcf_s, 2), "pcf_vs_raw": round(raw_s / pcf_s, 2), **timings,
            }  # fmt: skip
            raw_delete = (
                "DELETE FROM resources_resource WHERE tenant_id = %s AND status = 'archived'"
            )
            raw_s, raw_n = _timed_sql(raw_delete, [twin.pk])
            delete = {"filter": {"status": "archived"}}
            pcf_s, pcf_n, timings = _timed_job(client, "/v1/bulk-delete/resources", delete)
            results["bulk_delete"] = {
                "rows": pcf_n, "raw_rows": raw_n, "raw_s": round(raw_s, 2),
                "pcf_s": round(pcf_s, 2), "pcf_vs_raw": round(raw_s / pcf_s, 2), **timings,
            }  # fmt: skip
    finally:
        if stack is not None:
            stack.stop()
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM resources_resource WHERE tenant_id = ANY(%s)",
                [[other.pk, tenant.pk, twin.pk]],
            )
        for client_model in (other, tenant, twin):
            client_model.delete()
    _report(results)


def _report(results: dict[str, Any]) -> None:
    print(f"{results['rows']:,} rows a tenant, {results['filler']:,} rows of another before")
    for name, explained in results.get("explain", {}).items():
        print(f"  {name}: {explained['execution_ms']:.2f} ms PostgreSQL execution")
    print(f"  plan of the middle page:\n{results['explain']['middle page']['plan']}")
    for name, ms in results.get("http_page_ms", {}).items():
        print(f"  HTTP, {name}: {ms} ms a page (median)")
    for name in ("bulk_update", "bulk_delete"):
        if name in results:
            r = results[name]
            print(
                f"  {name}: {r['rows']:,} rows in {r['pcf_s']} s; raw SQL {r['raw_s']} s"
                f" ({r['pcf_vs_raw']} of raw)"
            )
            if "chunks" in r:
                print(
                    f"    {r['chunks']} chunks, {r['chunk_p50_ms']} ms each (median),"
                    f" {r['chunk_sum_s']} s in all; first done after {r['first_chunk_done_s']} s,"
                    f" last after {r['last_chunk_done_s']} s"
                )
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"reading-{time.strftime('%Y%m%d-%H%M%S')}.json"
    Path(path).write_text(json.dumps(results, indent=2))
    print(f"  written to {path}")


if __name__ == "__main__":
    main()
