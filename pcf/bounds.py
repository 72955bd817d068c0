"""Upper bounds for integers a client sends: every integer option has one, so no value
reaches SQL (bigint) or Python's int parsing (4,300 digits) out of range."""

from __future__ import annotations

from typing import Any

from pcf.exceptions import field_error

# PostgreSQL's bigint: row counts and LIMITs never need more.
BIGINT_MAX = 2**63 - 1


def bounded_int(value: Any, *, field: str, low: int = 1, high: int = BIGINT_MAX) -> int:
    """`value` if it is a JSON integer in [low, high]; else a 400 naming `field`."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise field_error(field, f"Must be an integer from {low} to {high}")
    return value
