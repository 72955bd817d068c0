"""Server-made resource ids: `res_` + 12 hex digits of the creation time in
milliseconds + 16 hex digits that keep ids made in the same millisecond apart.

Time first, so ids made together sort together: new entries land on the right edge of
the (tenant_id, public_id) unique index instead of on random pages all over it. With
fully random ids a 1M-row COPY took 37% longer (docs/benchmarks.md):
every insert dirtied a different leaf page, and after each checkpoint each of those
pages was written to the WAL whole. Ids are not secrets: every read is scoped to the
caller's tenant, and a collision still fails the unique index.

A single id ends in 64 random bits from the OS's CSPRNG. Ids made in one batch share
their time and end in a counter (4 hex digits) then 48 random bits, RFC 9562's
"dedicated counter" method for UUIDv7: they ascend in the order made, so a batch's rows
fill the index's pages in order instead of splitting them at random (a 1M-row COPY
with ascending ids built a 23% smaller index than with random ones). Rows COPied
verbatim without ids get the single-id format from the table's default (PostgreSQL's
random(); resources/migrations/0003_copy_defaults.py)."""

from __future__ import annotations

import binascii
import os
import time
from collections.abc import Iterator

ID_PREFIX = "res_"
_RANDOM_BYTES = 8
_COUNTER_BYTES = 2
# The most ids one batch can number.
ID_BATCH_MAX = 1 << (8 * _COUNTER_BYTES)
_COUNTER_HIGH = b"".join(bytes([high]) * 256 for high in range(256))
_COUNTER_LOW = bytes(range(256)) * 256


def _time_prefix() -> str:
    return ID_PREFIX + format(time.time_ns() // 1_000_000, "012x")


def new_resource_id() -> str:
    return _time_prefix() + os.urandom(_RANDOM_BYTES).hex()


def new_resource_id_batch(count: int) -> tuple[bytes, list[bytes]]:
    """`count` (at most ID_BATCH_MAX) new ids in ascending order, as ASCII: the prefix
    they share, and what follows it in each (its 16 hex digits), in C: no Python work
    per id, so a COPY of thousands of rows can carry its own ids cheaply."""
    if not 0 <= count <= ID_BATCH_MAX:
        raise ValueError(f"a batch holds 0 to {ID_BATCH_MAX} ids, not {count}")
    tails = bytearray(os.urandom(_RANDOM_BYTES * count))
    tails[0::_RANDOM_BYTES] = _COUNTER_HIGH[:count]
    tails[1::_RANDOM_BYTES] = _COUNTER_LOW[:count]
    return _time_prefix().encode(), binascii.hexlify(tails, b" ", _RANDOM_BYTES).split()


def new_resource_id_batches(count: int) -> Iterator[tuple[bytes, list[bytes]]]:
    """`count` new ids as new_resource_id_batch makes them, in as many batches as needed."""
    for start in range(0, count, ID_BATCH_MAX):
        yield new_resource_id_batch(min(ID_BATCH_MAX, count - start))


def new_resource_ids(count: int) -> list[str]:
    """`count` new ids, ascending within each batch of ID_BATCH_MAX."""
    return [
        (prefix + tail).decode()
        for prefix, tails in new_resource_id_batches(count)
        for tail in tails
    ]
