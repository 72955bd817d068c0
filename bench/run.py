"""`make bench`: the import benchmark, then the other benchmarks that exist.

BENCH_ROWS=100000 make bench        # smaller run
"""

from __future__ import annotations

import importlib
import importlib.util

MODULES = [
    "bench.imports",
    "bench.upload",
    "bench.copy_scaling",
    "bench.reading",
    "bench.batch",
    "bench.engine_overhead",
    "bench.bulk_update",
]


def main() -> None:
    for name in MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(name).main()


if __name__ == "__main__":
    main()
