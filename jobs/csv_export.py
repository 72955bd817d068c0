"""Job errors as CSV, safe to open in a spreadsheet.

A cell starting with = + - @ (or a tab / carriage return) would run as a formula in
Excel or LibreOffice; such cells are prefixed with a single quote (OWASP's advice for
CSV injection)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from jobs.models import JobError

HEADER = ["row", "index", "field", "code", "message", "values"]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _values(values: Any) -> str:
    if values is None:
        return ""
    if isinstance(values, str):
        return values
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def error_rows(errors: Iterable[JobError]) -> Iterator[str]:
    """Yield the CSV text line by line (a streaming response body)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(HEADER)
    yield flush()
    for error in errors:
        cells = [error.row, error.index, error.field, error.code, error.message]
        writer.writerow([neutralise(cell) for cell in cells] + [neutralise(_values(error.values))])
        yield flush()
