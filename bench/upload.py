"""The web's share of a CSV import, in process: `csv_import_start` reading the bench file
(decompression check, record cutting, chunking, the verbatim memo, staging COPYs) with
nothing else running. Each run happens in a transaction that is rolled back, so no job is
kept and nothing is dispatched.

    BENCH_UPLOAD_ROWS=1000000 BENCH_UPLOAD_MODES=lenient,strict python -m bench.upload

Prints wall and process CPU seconds per run (BENCH_UPLOAD_REPEATS, default 3)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from bench.imports import csv_file, setup_django

READ_SIZE = 256 * 1024  # as imports.upload_stream reads a request body


class _RolledBack(Exception):
    pass


def _pieces(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while piece := handle.read(READ_SIZE):
            yield piece


def main() -> None:
    setup_django()
    from django.core.management import call_command
    from django.db import transaction

    from imports.parsing import parse_csv_options
    from imports.services import csv_import_start
    from pcf.models import ApiClient

    call_command("migrate", verbosity=0)
    rows = int(os.environ.get("BENCH_UPLOAD_ROWS", "1000000"))
    chunk_size = int(os.environ.get("BENCH_UPLOAD_CHUNK_SIZE", "5000"))
    modes = os.environ.get("BENCH_UPLOAD_MODES", "lenient,strict").split(",")
    repeats = int(os.environ.get("BENCH_UPLOAD_REPEATS", "3"))
    path = csv_file(rows)
    for mode in modes:
        options = parse_csv_options(json.dumps({"validation": mode, "chunk_size": chunk_size}))
        for _ in range(repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                with transaction.atomic():
                    tenant, _token = ApiClient.issue("bench-upload")
                    _job, total = csv_import_start(
                        tenant=tenant, options=options, pieces=_pieces(path)
                    )
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    raise _RolledBack
            except _RolledBack:
                pass
            print(
                f"  {total:,} rows, {mode}, chunks of {chunk_size:,}: "
                f"{wall:.2f} s wall, {cpu:.2f} s CPU",
                flush=True,
            )


if __name__ == "__main__":
    main()
