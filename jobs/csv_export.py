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


# Error rows per step of the download: one step's text (about 2 MB) is all the web
# process holds, however many the job has.
EXPORT_BATCH_ROWS = 10_000


def _neutralised(column: str) -> str:
    """neutralise() in SQL, for one of the constant column expressions below."""
    starts = "'=', '+', '-', '@', E'\\t', E'\\r'"
    return f"CASE WHEN left({column}, 1) IN ({starts}) THEN '''' || {column} ELSE {column} END"


# PostgreSQL writes the CSV itself (COPY ... TO STDOUT): no row is built in Python. A
# JSON string in `values` is written as the text it holds, other JSON as JSON.
_VALUES = (
    """(CASE jsonb_typeof("values") WHEN 'string' THEN "values" #>> '{}'"""
    """ ELSE "values"::text END)"""
)
# Built from constant column expressions only; the values are parameters.
_COPY_SQL = (
    'COPY (SELECT "row", "index", '  # noqa: S608
    + ", ".join(_neutralised(c) for c in ("field", "code", "message", _VALUES))
    + " FROM jobs_joberror WHERE job_id = %s AND id > %s AND id <= %s ORDER BY id)"
    + " TO STDOUT (FORMAT csv)"
)


def _batch(job_id: str, after: int) -> tuple[str, int, bool]:
    """The CSV text of the next rows after `after` (by id), the last id, and whether
    more may follow: the batch's last id from the (job, id) index, then one COPY. Gives
    its connection back: under ASGI it runs on a pool thread."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT max(id), count(*) FROM (SELECT id FROM jobs_joberror"
                " WHERE job_id = %s AND id > %s ORDER BY id LIMIT %s) AS batch",
                [job_id, after, EXPORT_BATCH_ROWS],
            )
            last, count = cursor.fetchone()
            if not count:
                return "", after, False
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(_COPY_SQL, (job_id, after, last)) as copy,
            ):
                text = b"".join(bytes(block) for block in copy).decode()
    finally:
        connection.close()
    return text, int(last), count == EXPORT_BATCH_ROWS


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
