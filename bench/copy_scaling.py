"""The ceiling of any loader that writes through COPY statements into one table: the
bench's raw table (PCF's row shape and indexes) loaded with the same rows three ways,
after a warm-up load, each on a fresh table after a checkpoint, interleaved and repeated
(BENCH_SCALING_REPEATS, default 3):

- one COPY of every row (what `psql \\copy` does);
- 10,000-row COPYs, one transaction each, from one connection;
- the same COPYs from two connections at once (what two worker processes do).

    BENCH_SCALING_ROWS=1000000 python -m bench.copy_scaling

Prints the best and the median seconds of each, with the machine's CPU seconds; results land in
bench/results/copy-scaling-<time>.json."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from typing import Any

import psutil
import psycopg

from bench.imports import (
    PUBLIC_ID_DEFAULT,
    RAW_TABLE,
    RESULTS,
    csv_file,
    machine_cpu,
    setup_django,
)

PIECE_ROWS = 10_000
COPY_SQL = "COPY bench_raw_resource (name, type, status, metadata) FROM STDIN (FORMAT csv)"


def _database_url() -> str:
    from django.db import connection

    params = connection.get_connection_params()
    keys = ("host", "port", "user", "password", "dbname")
    return " ".join(f"{k}={params[k]}" for k in keys if params.get(k))


def _fresh_table(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RAW_TABLE)
        row = conn.execute(PUBLIC_ID_DEFAULT).fetchone()
        assert row is not None
        conn.execute(f"ALTER TABLE bench_raw_resource ALTER public_id SET DEFAULT {row[0]}")
        conn.execute("CHECKPOINT")


def _copy_pieces(url: str, pieces: Sequence[str]) -> None:
    """Each piece in a transaction of its own, as PCF's chunk transactions commit."""
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.commit()
        for piece in pieces:
            with conn.transaction(), conn.cursor().copy(COPY_SQL) as copy:
                copy.write(piece)


def _timed(url: str, streams: Sequence[Sequence[str]]) -> dict[str, float]:
    _fresh_table(url)
    cpu_before, started = machine_cpu(), time.monotonic()
    processes = [multiprocessing.Process(target=_copy_pieces, args=(url, s)) for s in streams]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        assert process.exitcode == 0, process.exitcode
    seconds = time.monotonic() - started
    return {"seconds": round(seconds, 2), "machine_cpu_s": round(machine_cpu() - cpu_before, 1)}


def main() -> None:
    setup_django()
    rows = int(os.environ.get("BENCH_SCALING_ROWS", "1000000"))
    url = _database_url()
    with open(csv_file(rows)) as handle:
        handle.readline()  # the header
        lines = handle.readlines()
    pieces = ["".join(lines[i : i + PIECE_ROWS]) for i in range(0, len(lines), PIECE_ROWS)]
    whole = "".join(pieces)
    ways: dict[str, list[list[str]]] = {
        "one COPY": [[whole]],
        f"{PIECE_ROWS:,}-row COPYs, 1 connection": [pieces],
        f"{PIECE_ROWS:,}-row COPYs, 2 connections": [pieces[0::2], pieces[1::2]],
    }
    _timed(url, [[whole]])  # warm-up: WAL files exist, caches hold the table's shape
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in ways}
    for _ in range(int(os.environ.get("BENCH_SCALING_REPEATS", "3"))):
        for name, streams in ways.items():  # interleaved: drift hits every way alike
            runs[name].append(_timed(url, streams))
    results: list[dict[str, Any]] = []
    for name, timings in runs.items():
        best = min(timings, key=lambda t: t["seconds"])
        median = sorted(t["seconds"] for t in timings)[len(timings) // 2]
        outcome = {"method": name, "rows": rows, "runs": timings, **best}
        outcome["rows_per_s"] = round(rows / best["seconds"])
        results.append(outcome)
        print(
            f"  {name:<32} best {best['seconds']:5.2f} s ({outcome['rows_per_s']:>7,} rows/s,"
            f" machine CPU {best['machine_cpu_s']:.1f} s), median {median:5.2f} s",
            flush=True,
        )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE bench_raw_resource; DROP SEQUENCE bench_raw_public")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"copy-scaling-{time.strftime('%Y%m%d-%H%M%S')}.json"
    info = {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 1e9, 1)}
    out.write_text(json.dumps({"machine": info, "results": results}, indent=2))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
