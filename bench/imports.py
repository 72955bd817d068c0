"""Import benchmark: raw `psql \\copy`, Django bulk_create, django-import-export (bulk
mode) and PCF's full path (HTTP upload to uvicorn -> job -> chunk tasks on a Celery
worker with 2 processes -> rows committed), interleaved per file size in one run: raw
COPY runs first and again after every other method, and each method's ratio is against
the faster of the raw runs on either side of it.

    BENCH_ROWS=100000,1000000 BENCH_PCF_MODES=lenient,strict python -m bench.imports

Each method runs in its own process so its peak RSS is its own. Results are printed
and written to bench/results/imports-<time>.json."""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"
TYPES = ["document", "image", "video", "audio", "other"]
STATUSES = ["draft", "active", "published", "archived"]
PEER_MAX_ROWS = 100_000  # bulk_create and import-export run on the 100k file only


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pcf.settings")
    import django

    django.setup()


# --- data ---------------------------------------------------------------------------


def csv_file(rows: int) -> Path:
    """bench/data/resources_<rows>.csv (generated once; gitignored)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"resources_{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(rows)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "type", "status", "metadata"])
        for i in range(rows):
            metadata = {"source": "bench", "n": i, "tags": [rng.choice(TYPES), "x"]}
            writer.writerow(
                [
                    f"Resource {i}, batch {i // 1000}",
                    rng.choice(TYPES),
                    rng.choice(STATUSES),
                    json.dumps(metadata, separators=(",", ":")),
                ]
            )
    tmp.rename(path)
    return path


# --- measuring ----------------------------------------------------------------------


class PeakRss:
    """Polls processes' RSS (with their children) and keeps the peak, in MB."""

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}

    def sample(self, name: str, pid: int) -> None:
        try:
            proc = psutil.Process(pid)
            rss = proc.memory_info().rss
            for child in proc.children(recursive=True):
                rss = max(rss, child.memory_info().rss) if name == "workers" else rss + 0
        except psutil.Error:
            return
        self.peaks[name] = max(self.peaks.get(name, 0.0), rss / 1e6)


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (alive ones). PostgreSQL's share is
    not measured: its backends come and go, so a per-process sum is not reliable."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def postmasters() -> Iterator[psutil.Process]:
    """The PostgreSQL servers on this machine (their postmasters), or only the one
    BENCH_POSTMASTER_PID names, when set (a server of the benchmark's)."""
    only = int(os.environ.get("BENCH_POSTMASTER_PID") or 0)
    for proc in psutil.process_iter(["name", "ppid"]):
        if proc.info["name"] not in ("postgres", "postmaster") or proc.info["ppid"] != 1:
            continue
        if not only or proc.pid == only:
            yield proc


def postgres_cpu() -> float:
    """CPU seconds of the PostgreSQL servers postmasters() names: the postmaster, its
    live children and the children it has reaped (exited backends). 0 if not visible."""
    total = 0.0
    for proc in postmasters():
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    ctimes = child.cpu_times()
                    total += ctimes.user + ctimes.system
    return total


def postgres_settled(before: set[int], timeout: float = 5.0) -> None:
    """Wait until backends started since `before` (the server's processes then) have
    exited and been reaped: an exiting backend's CPU is in neither its live process nor
    the postmaster's reaped children, and a raw COPY once read as 0.1 CPU s."""
    deadline = time.monotonic() + timeout
    started = postgres_pids() - before  # not those started later, e.g. autovacuum's
    while time.monotonic() < deadline and started & postgres_pids():
        time.sleep(0.05)


def postgres_pids() -> set[int]:
    """The PostgreSQL server's processes postgres_cpu counts."""
    pids: set[int] = set()
    for proc in postmasters():
        with contextlib.suppress(psutil.Error):
            pids.update(child.pid for child in proc.children(recursive=True))
    return pids


def machine_cpu() -> float:
    """CPU seconds spent by the whole machine (all cores, not idle)."""
    times = psutil.cpu_times()
    return times.user + times.nice + times.system + times.irq + times.softirq


def run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a child process; return (seconds, peak RSS MB, stdout)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0.0
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, psutil.Process(proc.pid).memory_info().rss / 1e6)
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]} failed: {err[-2000:]}")
    return elapsed, peak, out


# --- raw psql \copy -----------------------------------------------------------------

RAW_TABLE = """
DROP TABLE IF EXISTS bench_raw_resource;
DROP SEQUENCE IF EXISTS bench_raw_public;
CREATE SEQUENCE bench_raw_public;  -- unused once run_raw_copy sets PCF's default
CREATE TABLE bench_raw_resource (
    seq bigserial PRIMARY KEY,
    tenant_id integer NOT NULL DEFAULT 1,
    public_id varchar(64) NOT NULL
        DEFAULT 'res_' || lpad(to_hex(nextval('bench_raw_public')), 20, '0'),
    name varchar(255) NOT NULL,
    type varchar(16) NOT NULL,
    status varchar(16) NOT NULL,
    metadata jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE UNIQUE INDEX bench_raw_tenant_public ON bench_raw_resource (tenant_id, public_id);
CREATE INDEX bench_raw_live_name ON bench_raw_resource (tenant_id, name) WHERE deleted_at IS NULL;
CREATE INDEX bench_raw_live_seq ON bench_raw_resource (tenant_id, seq) WHERE deleted_at IS NULL;
"""


def psql_argv() -> list[str]:
    from django.db import connection

    params = connection.get_connection_params()
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", str(params.get("dbname"))]
    if params.get("host"):
        argv += ["-h", str(params["host"])]
    if params.get("port"):
        argv += ["-p", str(params["port"])]
    if params.get("user"):
        argv += ["-U", str(params["user"])]
    return argv


PUBLIC_ID_DEFAULT = """
SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE d.adrelid = 'resources_resource'::regclass AND a.attname = 'public_id'
"""


def warm_up(path: Path, rows: int) -> None:
    """Untimed raw COPYs (BENCH_WARMUP_COPIES, default 2) before anything is timed. A
    fresh server creates and zero-fills every WAL file the first loads write, which later
    ones recycle: on a new server raw COPY ran at 93k, 109k, then 130k rows/s three times
    in a row, so whichever method ran first was handicapped."""
    for _ in range(int(os.environ.get("BENCH_WARMUP_COPIES", "2"))):
        run_raw_copy(path, rows)


def csv_file_with_ids(rows: int) -> Path:
    """The bench file with a first `public_id` column, ids made as PCF's workers make
    them for a verbatim COPY (records_with_new_ids, per message of 10,000 rows);
    generated once, gitignored."""
    from resources.services.many import records_with_new_ids

    path = DATA / f"resources_{rows}_ids.csv"
    if path.exists():
        return path
    with open(csv_file(rows), "rb") as source:
        lines = source.read().split(b"\n")
    header, records = lines[0], [line for line in lines[1:] if line]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        handle.write(b"public_id," + header + b"\n")
        for start in range(0, len(records), 10_000):
            batch = records[start : start + 10_000]
            with_ids = records_with_new_ids(b"\n".join(batch) + b"\n", len(batch))
            assert with_ids is not None, "bench records are one line each"
            handle.write(with_ids)
    tmp.rename(path)
    return path


def run_raw_copy(path: Path, rows: int, *, ids: bool = False) -> dict[str, Any]:
    """psql `\\copy` of the bench file into a fresh table of PCF's shape; `ids`: of the
    file with its ids given (csv_file_with_ids), a reference: PostgreSQL then inserts in
    batches, as it does for PCF's verbatim chunks, instead of row by row (the public id
    default is volatile)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(RAW_TABLE)
        # The same row shape as PCF writes: public ids from resources_resource's own
        # default (time-ordered and random, ~0.7 CPU s per 1M rows more than a sequence).
        cursor.execute(PUBLIC_ID_DEFAULT)
        (expression,) = cursor.fetchone()
        cursor.execute(f"ALTER TABLE bench_raw_resource ALTER public_id SET DEFAULT {expression}")
    columns = "public_id, name, type, status, metadata" if ids else "name, type, status, metadata"
    source = csv_file_with_ids(rows) if ids else path
    copy = f"\\copy bench_raw_resource ({columns}) FROM '{source}' WITH (FORMAT csv, HEADER true)"
    env = {
        **os.environ,
        "PGPASSWORD": str(connection.get_connection_params().get("password") or ""),
    }
    quiesce()
    pids_before = postgres_pids()
    pg_before, machine_before = postgres_cpu(), machine_cpu()
    seconds, peak, _ = run_measured([*psql_argv(), "-c", copy], env=env)
    postgres_settled(pids_before)
    cpu = {"postgres": postgres_cpu() - pg_before, "machine": machine_cpu() - machine_before}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_raw_resource")
        count = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_raw_resource; DROP SEQUENCE bench_raw_public")
    assert count == rows, (count, rows)
    return {"seconds": seconds, "peak_mb": peak, "cpu_s": {k: round(v, 1) for k, v in cpu.items()}}


# --- Django peers (each in a child process: `python -m bench.imports peer <kind> <file>`) ---


def peer_main(kind: str, path: str, tenant_id: int) -> None:
    setup_django()
    from django.utils import timezone

    from resources.ids import new_resource_id
    from resources.models import Resource

    if kind == "bulk_create":
        with open(path, newline="") as handle:
            batch: list[Resource] = []
            for row in csv.DictReader(handle):
                now = timezone.now()
                batch.append(
                    Resource(
                        tenant_id=tenant_id,
                        public_id=new_resource_id(),
                        name=row["name"],
                        type=row["type"],
                        status=row["status"],
                        metadata=json.loads(row["metadata"]),
                        created_at=now,
                        updated_at=now,
                    )
                )
                if len(batch) == 1000:
                    Resource.objects.bulk_create(batch)
                    batch = []
            Resource.objects.bulk_create(batch)
        return
    if kind == "import_export":
        import tablib
        from import_export import fields, resources, widgets

        class ResourceImport(resources.ModelResource):
            metadata = fields.Field(
                attribute="metadata", column_name="metadata", widget=widgets.JSONWidget()
            )

            class Meta:
                model = Resource
                fields = (
                    "tenant",
                    "public_id",
                    "name",
                    "type",
                    "status",
                    "metadata",
                    "created_at",
                    "updated_at",
                )
                import_id_fields = ("public_id",)
                use_bulk = True
                batch_size = 1000
                force_init_instance = True  # new rows only: no lookup per row
                skip_diff = True
                report_skipped = False

        with open(path, newline="") as handle:
            dataset = tablib.Dataset().load(handle.read(), format="csv")
        now = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
        n = len(dataset)
        dataset.append_col([tenant_id] * n, header="tenant")
        dataset.append_col([new_resource_id() for _ in range(n)], header="public_id")
        dataset.append_col([now] * n, header="created_at")
        dataset.append_col([now] * n, header="updated_at")
        result = ResourceImport().import_data(dataset, dry_run=False, raise_errors=True)
        assert not result.has_errors()
        return
    raise SystemExit(f"unknown peer {kind}")


def run_peer(kind: str, path: Path, rows: int) -> dict[str, Any]:
    from pcf.models import ApiClient
    from resources.models import Resource

    tenant, _ = ApiClient.issue(f"bench-{kind}")
    try:
        seconds, peak, _ = run_measured(
            [sys.executable, "-m", "bench.imports", "peer", kind, str(path), str(tenant.pk)]
        )
        count = Resource.objects.filter(tenant=tenant).count()
        assert count == rows, (kind, count, rows)
    finally:
        Resource.objects.filter(tenant=tenant).delete()
        tenant.delete()
    return {"seconds": seconds, "peak_mb": peak}


# --- PCF full path ----------------------------------------------------------------------


class Stack:
    """uvicorn (1 process) + a Celery worker with 2 pool processes, against this database."""

    def __init__(self) -> None:
        self.port = 18000 + os.getpid() % 1000
        self.logs = Path(tempfile.mkdtemp(prefix="pcf-bench-"))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "pcf.asgi:application",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            stdout=open(self.logs / "web.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        self.worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "pcf",
                "worker",
                "-Q",
                "chunks,celery,webhooks",
                "-c",
                "2",
                "--prefetch-multiplier",
                "1",
                "-l",
                "warning",
                "-n",
                f"bench{self.port}@%h",
            ],
            env=env,
            stdout=open(self.logs / "worker.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start; see {self.logs}")
            time.sleep(0.2)
        time.sleep(3)  # let the worker connect to the broker

    def stop(self) -> None:
        for proc in (self.web, self.worker):
            proc.terminate()
        for proc in (self.web, self.worker):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _multipart(path: Path, options: dict[str, Any]) -> tuple[Any, str]:
    """A streaming multipart body (options first, so the server can pipeline)."""
    boundary = "pcfbench" + os.urandom(8).hex()

    def body() -> Any:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="options"\r\n\r\n'
            f"{json.dumps(options)}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'  # noqa: E501
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        with open(path, "rb") as handle:
            while piece := handle.read(1024 * 1024):
                yield piece
        yield f"\r\n--{boundary}--\r\n".encode()

    return body(), f"multipart/form-data; boundary={boundary}"


# Rewritten before every PCF run: deleted rows of earlier runs would otherwise leave
# resources_resource and its indexes GBs big (dead tuples), while raw COPY always gets
# a fresh table. Same starting state for both: compact tables, warm-ish cache.
COMPACTED = (
    "resources_resource",
    "jobs_chunk",
    "jobs_job",
    "jobs_joberror",
    "django_celery_results_taskresult",
)


def compact_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in COMPACTED:
            cursor.execute(f"VACUUM (FULL, ANALYZE) {table}")


def quiesce(timeout: float = 120.0) -> None:
    """The same starting point for every timed method: nothing left for autovacuum from
    an earlier run (a raw COPY after the PCF runs was 16-20% slower than before them:
    autovacuum ran beside it), none of its workers busy, and a checkpoint just done, so
    each run pays the same full-page writes."""
    from django.db import connection

    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        for table in COMPACTED:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            )
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.5)
        cursor.execute("CHECKPOINT")


# BENCH_PG_STATEMENTS=1: the benchmark's own servers load pg_stat_statements and each PCF
# run prints the statements PostgreSQL spent the most time in (where its CPU goes).
STATEMENTS = os.environ.get("BENCH_PG_STATEMENTS") == "1"


def statements_reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cursor.execute("SELECT pg_stat_statements_reset()")


def statements_top(limit: int = 10) -> list[dict[str, Any]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT calls, round(total_exec_time::numeric, 1), rows, left(query, 90)"
            " FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT %s",
            [limit],
        )
        top = cursor.fetchall()
    for calls, ms, rows, query in top:
        print(f"      {ms:>9} ms {calls:>6} calls {rows:>8} rows  {' '.join(query.split())}")
    return [{"calls": c, "ms": float(m), "rows": r, "query": q} for c, m, r, q in top]


def run_pcf(stack: Stack, path: Path, rows: int, mode: str, chunk_size: int) -> dict[str, Any]:
    import httpx

    from jobs.models import Job
    from pcf.models import ApiClient
    from resources.models import Resource

    compact_tables()
    quiesce()
    tenant, token = ApiClient.issue(f"bench-pcf-{mode}")
    peaks = PeakRss()
    options = {"validation": mode, "chunk_size": chunk_size}
    if STATEMENTS:
        statements_reset()
    try:
        body, content_type = _multipart(path, options)
        started = time.monotonic()
        import threading

        answer: dict[str, Any] = {}

        def send() -> None:
            response = httpx.post(
                f"http://127.0.0.1:{stack.port}/v1/import/resources",
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
                timeout=600,
            )
            answer["status"] = response.status_code
            answer["body"] = response.json()

        cpu_before = {
            "web": tree_cpu(stack.web.pid),
            "workers": tree_cpu(stack.worker.pid),
            "postgres": postgres_cpu(),
            "machine": machine_cpu(),
        }
        sender = threading.Thread(target=send)
        sender.start()
        job_id = None
        while True:
            peaks.sample("web", stack.web.pid)
            peaks.sample("workers", stack.worker.pid)
            if job_id is None and "body" in answer:
                if answer["status"] != 202:
                    raise RuntimeError(f"upload failed: {answer}")
                job_id = answer["body"]["job_id"]
                upload_seconds = time.monotonic() - started
            if job_id is not None:
                job = Job.objects.get(pk=job_id)
                if job.is_finished:
                    break
            time.sleep(0.05)
        seconds = time.monotonic() - started
        cpu = {
            "web": tree_cpu(stack.web.pid) - cpu_before["web"],
            "workers": tree_cpu(stack.worker.pid) - cpu_before["workers"],
            "postgres": postgres_cpu() - cpu_before["postgres"],
            "machine": machine_cpu() - cpu_before["machine"],
        }
        sender.join()
        assert job.status == "completed" and job.successful == rows, (
            job.status,
            job.successful,
            job.message,
        )
        count = Resource.objects.filter(tenant=tenant).count()
        assert count == rows, (count, rows)
        chunk_ms = sorted(job.chunks.values_list("duration_ms", flat=True))
        chunk_p50 = chunk_ms[len(chunk_ms) // 2] if chunk_ms else 0
        statements = statements_top() if STATEMENTS else []
    finally:
        Resource.objects.filter(tenant=tenant).delete()
        tenant.delete()
    return {
        "chunk_size": chunk_size,
        "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
        "chunk_p50_ms": chunk_p50,
        "statements": statements,
        "chunk_sum_s": sum(chunk_ms) / 1000,
        "seconds": seconds,
        "upload_seconds": upload_seconds,
        "peak_mb": peaks.peaks.get("web", 0.0),
        "worker_peak_mb": peaks.peaks.get("workers", 0.0),
    }


# --- the run ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        settings = {}
        for name in ("shared_buffers", "max_wal_size", "synchronous_commit", "wal_level"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": sys.version.split()[0],
        "postgres": version,
        "postgres_settings": settings,
    }


def baseline(runs: list[dict[str, Any]], at: int) -> dict[str, Any]:
    """The raw COPY a run is compared with: the faster of the raw runs just before and
    just after it (a raw run: the fastest raw run of all, which shows the drift)."""
    raws = [i for i, r in enumerate(runs) if r["method"].startswith("psql")]
    if at in raws:
        return max((runs[i] for i in raws), key=lambda r: r["rows_per_s"])
    near = [i for i in raws if i < at][-1:] + [i for i in raws if i > at][:1]
    return max((runs[i] for i in near), key=lambda r: r["rows_per_s"])


# PostgreSQL settings of the runs on servers of the benchmark's own (BENCH_PG_PROFILES):
# "stock" is PostgreSQL's defaults, "tuned" what an operator would set for a bulk-load
# service (docs/benchmarks.md, "PostgreSQL settings").
PG_PROFILES: dict[str, dict[str, str]] = {
    "stock": {"fsync": "on"},
    "tuned": {
        "fsync": "on",
        "shared_buffers": "'1GB'",
        "wal_buffers": "'64MB'",
        "max_wal_size": "'8GB'",
        "checkpoint_timeout": "'15min'",
        "wal_compression": "lz4",
        "maintenance_work_mem": "'512MB'",
        "work_mem": "'16MB'",
    },
}


def run_profiles(profiles: list[str]) -> None:
    """The whole benchmark once per profile, each on a PostgreSQL server of its own with
    those settings (raw COPY and PCF alike), one after the other."""
    sys.path.insert(0, str(ROOT))
    from tests.stack import OwnedPostgres  # the fault tests' server: dev tooling only

    # The machine's own PostgreSQL build when there is one (Debian's has lz4, for the
    # staged chunks' TOAST and the tuned WAL); else pgserver's, with pglz instead.
    system = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
    chosen = os.environ.get("BENCH_PG_BIN") or (system[-1] if system else "")
    bin_dir = Path(chosen) if chosen else None
    for profile in profiles:
        conf = dict(PG_PROFILES[profile])
        if STATEMENTS:
            conf["shared_preload_libraries"] = "'pg_stat_statements'"
        if bin_dir is None:
            conf = {k: ("pglz" if v == "lz4" else v) for k, v in conf.items()}
        server = OwnedPostgres(conf=conf, bin_dir=bin_dir)
        try:
            where = bin_dir or "pgserver"
            print(f"\n### PostgreSQL settings: {profile} {conf} ({where})", flush=True)
            env = {**os.environ, "DATABASE_URL": server.url, "BENCH_PG_PROFILES": ""}
            env["BENCH_POSTMASTER_PID"] = str(server.pid or "")
            subprocess.run([sys.executable, "-m", "bench.imports"], env=env, check=True)
        finally:
            server.close()


def main() -> None:
    profiles = [p for p in os.environ.get("BENCH_PG_PROFILES", "").split(",") if p]
    if profiles:
        run_profiles(profiles)
        return
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    sizes = [int(s) for s in os.environ.get("BENCH_ROWS", "100000,1000000").split(",") if s]
    modes = [m for m in os.environ.get("BENCH_PCF_MODES", "lenient,strict").split(",") if m]
    chunk_sizes = [int(s) for s in os.environ.get("BENCH_CHUNK_SIZES", "1000").split(",") if s]
    info = machine()
    print(f"machine: {info}")
    results: list[dict[str, Any]] = []
    stack = Stack()
    try:
        for rows in sizes:
            path = csv_file(rows)
            warm_up(path, rows)
            raw_copy = ("psql \\copy (raw)", lambda path=path, rows=rows: run_raw_copy(path, rows))
            # A reference, not a baseline (the baseline is the file as the user has it).
            raw_with_ids = (
                "raw COPY, ids in the file",
                lambda path=path, rows=rows: run_raw_copy(path, rows, ids=True),
            )
            plan: list[tuple[str, Any]] = [raw_copy, raw_with_ids, raw_copy]
            for size in chunk_sizes:
                for mode in modes:
                    plan.append(
                        (
                            f"PCF end to end ({mode}, chunks of {size:,})",
                            lambda mode=mode, path=path, rows=rows, size=size: run_pcf(
                                stack, path, rows, mode, size
                            ),
                        )
                    )
                    # Raw again after each PCF run: this machine's speed drifts by
                    # 20-30% within minutes, so each run is compared with its neighbours.
                    plan.append(raw_copy)
            if rows <= PEER_MAX_ROWS:
                plan.append(
                    (
                        "Django bulk_create loop",
                        lambda path=path, rows=rows: run_peer("bulk_create", path, rows),
                    )
                )
                plan.append(
                    (
                        "django-import-export (bulk)",
                        lambda path=path, rows=rows: run_peer("import_export", path, rows),
                    )
                )
            if plan[-1] is not raw_copy:
                plan.append(raw_copy)
            for name, run in plan:
                outcome = run()
                outcome.update(method=name, rows=rows, rows_per_s=rows / outcome["seconds"])
                results.append(outcome)
                detail = ""
                if "cpu_s" in outcome and "upload_seconds" not in outcome:
                    detail = f"  CPU s {outcome['cpu_s']}"
                elif "cpu_s" in outcome:
                    detail = (
                        f"  upload {outcome['upload_seconds']:.1f}s, chunk p50"
                        f" {outcome['chunk_p50_ms']}ms, CPU s {outcome['cpu_s']}"
                    )
                print(
                    f"  {rows:>9,} {name:<30} {outcome['rows_per_s']:>10,.0f} rows/s  peak {outcome['peak_mb']:.0f} MB{detail}",  # noqa: E501
                    flush=True,
                )
    finally:
        stack.stop()
    print()
    print(
        "| rows | method | rows/s | vs raw COPY | peak RSS (MB) | upload s"
        " | CPU s: PostgreSQL / web / workers / machine |"
    )
    print("|---:|---|---:|---:|---:|---:|---|")
    for rows in sizes:
        runs = [r for r in results if r["rows"] == rows]
        for at, r in enumerate(runs):
            ratio = r["rows_per_s"] / baseline(runs, at)["rows_per_s"]
            extra = f" (workers {r['worker_peak_mb']:.0f})" if "worker_peak_mb" in r else ""
            upload = f"{r['upload_seconds']:.1f}" if "upload_seconds" in r else "-"
            cpu = r.get("cpu_s", {})
            cpu_text = " / ".join(
                f"{cpu[k]:.1f}" if k in cpu else "-"
                for k in ("postgres", "web", "workers", "machine")
            )
            print(
                f"| {rows:,} | {r['method']} | {r['rows_per_s']:,.0f} | {ratio:.0%}"
                f" | {r['peak_mb']:.0f}{extra} | {upload} | {cpu_text} |"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"imports-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"machine": info, "results": results}, indent=2))
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "peer":
        peer_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
