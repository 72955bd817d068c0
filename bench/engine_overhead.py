"""Job engine overhead per chunk: N no-op chunks through W worker processes.

Run: `.venv/bin/python -m bench.engine_overhead [--chunks 200] [--workers 2] [--rounds 3]`
(DATABASE_URL / REDIS_URL as for everything else; the database is migrated first).
Each chunk's handler does nothing, so what is measured is the engine: the chunk row
read and claim (SKIP LOCKED), the attempt stamp, the done mark, the job counter
UPDATE, the finish check, the Redis progress publish, the Celery round trip and the
django-celery-results row. Reports wall ms per chunk and worker-ms per chunk
(wall x workers / chunks), the median of the rounds."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parents[1]


def _start_workers(count: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    env = dict(os.environ, PCF_EXTRA_HANDLER_MODULES="bench.engine_handlers")
    celery = str(Path(sys.executable).with_name("celery"))
    procs = []
    for n in range(count):
        log = open(log_dir / f"w{n}.log", "wb")  # noqa: SIM115 - lives as long as the worker
        procs.append(
            subprocess.Popen(
                [celery, "-A", "pcf", "worker", "-Q", "chunks", "-c", "1", "-n", f"bench{n}@%h",
                 "-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
    return procs


def _wait_ready(count: int) -> None:
    from pcf.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5) or []
        if len(replies) >= count:
            return
    raise RuntimeError("workers did not start")


def _one_round(
    tenant: object, chunks: int, workers: list[subprocess.Popen[bytes]]
) -> tuple[float, float, float, float]:
    """(enqueue s, end-to-end s, worker CPU s, PostgreSQL CPU s) of one job."""
    from bench.imports import postgres_cpu, tree_cpu
    from jobs.models import Job
    from jobs.services import ChunkInput, job_submit

    cpu_before = sum(tree_cpu(p.pid) for p in workers)
    pg_before = postgres_cpu()
    started = time.perf_counter()
    job = job_submit(
        tenant=tenant,  # type: ignore[arg-type]
        type="batch",
        handler="bench.noop",
        chunks=(ChunkInput(row_count=1) for _ in range(chunks)),
    )
    queued = time.perf_counter()
    while True:
        job = Job.objects.get(pk=job.pk)
        if job.is_finished:
            break
        time.sleep(0.005)
    finished = time.perf_counter()
    assert job.status == "completed" and job.processed == chunks, job
    cpu = sum(tree_cpu(p.pid) for p in workers) - cpu_before
    return queued - started, finished - started, cpu, postgres_cpu() - pg_before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pcf.settings")
    django.setup()
    from django.core.management import call_command

    import bench.engine_handlers  # noqa: F401 - job_submit accepts registered kinds only
    from pcf.models import ApiClient

    call_command("migrate", verbosity=0, skip_checks=True)
    tenant, _ = ApiClient.issue("bench-engine")
    with tempfile.TemporaryDirectory() as tmp:
        procs = _start_workers(args.workers, Path(tmp))
        try:
            _wait_ready(args.workers)
            _one_round(tenant, 20, procs)  # warm-up: connections, imports
            results = [_one_round(tenant, args.chunks, procs) for _ in range(args.rounds)]
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
            tenant.delete()
    enqueue = statistics.median(r[0] for r in results)
    wall = statistics.median(r[1] for r in results)
    print(
        f"{args.chunks} no-op chunks, {args.workers} worker processes,"
        f" {args.rounds} rounds (median)"
    )
    print(
        f"  create + enqueue: {enqueue * 1000:.0f} ms ({enqueue * 1000 / args.chunks:.2f} ms/chunk)"
    )
    print(f"  end to end:       {wall * 1000:.0f} ms")
    print(f"  wall per chunk:   {wall * 1000 / args.chunks:.2f} ms")
    print(f"  worker-ms/chunk:  {wall * 1000 * args.workers / args.chunks:.2f} ms")
    cpu = statistics.median(r[2] for r in results)
    pg = statistics.median(r[3] for r in results)
    print(f"  worker CPU/chunk: {cpu * 1000 / args.chunks:.2f} ms")
    print(f"  PostgreSQL CPU/chunk: {pg * 1000 / args.chunks:.2f} ms (every backend)")


if __name__ == "__main__":
    main()
