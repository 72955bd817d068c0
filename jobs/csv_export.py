"""Job errors as CSV, safe to open in a spreadsheet.

A cell starting with = + - @ (or a tab / carriage return) would run as a formula in
Excel or LibreOffice; such cells are prefixed with a single quote (OWASP's advice for
CSV injection)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection

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


_COLUMNS = ("row", "index", "field", "code", "message", "values")


def _rows_text(rows: Iterable[tuple[Any, ...]], *, header: bool = False) -> str:
    """CSV text of error rows given as `_COLUMNS` tuples."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(HEADER)
    for *cells, values in rows:
        writer.writerow([neutralise(cell) for cell in cells] + [neutralise(_values(values))])
    return buffer.getvalue()


# Error rows read and written per step of the download: one step's rows are all the
# web process holds, however many the job has.
EXPORT_BATCH_ROWS = 2000


def _batch(job_id: str, after: int) -> tuple[str, int, bool]:
    """The CSV text of the next rows after `after` (by id), the last id, and whether
    more may follow. Gives its connection back: under ASGI it runs on a pool thread."""
    try:
        rows = list(
            JobError.objects.filter(job_id=job_id, pk__gt=after)
            .order_by("pk")
            .values_list("pk", *_COLUMNS)[:EXPORT_BATCH_ROWS]
        )
    finally:
        connection.close()
    last = rows[-1][0] if rows else after
    return _rows_text(row[1:] for row in rows), last, len(rows) == EXPORT_BATCH_ROWS


def error_csv_sync(job_id: str) -> Iterator[str]:
    """The job's errors as CSV, batch by batch, for a WSGI server."""
    yield _rows_text([], header=True)
    after, more = 0, True
    while more:
        text, after, more = _batch(job_id, after)
        if text:
            yield text


async def error_csv(job_id: str) -> AsyncIterator[str]:
    """The same for an ASGI server. Asynchronous on purpose: under ASGI, Django reads a
    synchronous iterator whole into memory before sending it, which for a job with a
    million errors meant hundreds of MB per download."""
    yield _rows_text([], header=True)
    after, more = 0, True
    while more:
        text, after, more = await sync_to_async(_batch, thread_sensitive=False)(job_id, after)
        if text:
            yield text
