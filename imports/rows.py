"""From CSV cells to validated resource values, fast.

The import hot path checks each row once. This validator applies the rules of
resources.parsing (same limits, same messages; tests/imports/test_rows.py checks the two
agree) without building a pydantic model per row, which measured about 3x slower here."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from imports.parsing import IMPORT_FIELDS, ColumnMap
from pcf.exceptions import ValidationError, field_detail
from resources.parsing import (
    STATUSES,
    TYPES,
    NumberOutOfRange,
    json_depth,
    number_growth,
    numeric_text_length,
)
from resources.services import RowValues

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TYPES = frozenset(TYPES)
_STATUSES = frozenset(STATUSES)
_TYPE_MESSAGE = f"Invalid type value; expected one of: {', '.join(TYPES)}"
_STATUS_MESSAGE = f"Invalid status value; expected one of: {', '.join(STATUSES)}"
# Re-encoding parsed JSON can grow it (a number like 1e15 prints as 18 characters), by at
# most ~4.5x; raw metadata under this many characters cannot exceed the byte limit.
_SAFE_METADATA_CHARS = 14_000


@dataclass(frozen=True)
class BoundColumn:
    """A mapped field bound to its position in the header."""

    field: str
    index: int
    json: bool


@dataclass(frozen=True)
class CellProblem:
    field: str
    message: str


def header_of(cells: Sequence[str]) -> list[str]:
    """The header's column names, or a 400 for an empty or repeated name."""
    names = [c.strip() for c in cells]
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            problems.append(field_detail("file", f"Header column {position} has no name"))
        elif name in seen:
            problems.append(field_detail("file", f"Header column {name!r} is repeated"))
        seen.add(name)
    if problems:
        raise ValidationError("The CSV header is malformed", details=problems)
    return names


def bind_mapping(mapping: Sequence[ColumnMap], header: Sequence[str]) -> list[BoundColumn]:
    """Bind mapped fields to header positions; a mapped column the header lacks is a 400.
    No mapping: each import field whose column exists reads it (name and type must)."""
    position = {name: i for i, name in enumerate(header)}
    if not mapping:
        mapping = [
            ColumnMap(field=f, column=f, json=f == "metadata")
            for f in IMPORT_FIELDS
            if f in position or f in ("name", "type")
        ]
    missing = [m for m in mapping if m.column not in position]
    if missing:
        raise ValidationError(
            "Mapped columns are missing from the CSV header",
            details=[
                field_detail(f"mapping.{m.field}", f"Column {m.column!r} is not in the header")
                for m in missing
            ],
        )
    return [BoundColumn(field=m.field, index=position[m.column], json=m.json) for m in mapping]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


class _NumberScan(threading.local):
    """What the exact decoder learnt about the numbers of the document it last read."""

    growth = 0


_scan = _NumberScan()


# Python refuses to read integers longer than this (sys.get_int_max_str_digits); the
# API's JSON parser too, so imports refuse them the same way.
_MAX_INT_DIGITS = 4300
# The fast path hands numbers this long, or with exponents, to the exact path.
_FAST_NUMBER_CHARS = 300


def _exact_float(literal: str) -> float:
    # PostgreSQL keeps the literal as numeric (NumberOutOfRange past its digits) and
    # prints it in full: 1e300 as 301 digits, a 70,000-digit literal as itself, where
    # json.dumps of the float writes "1e+300" or "Infinity". The difference is counted.
    value = float(literal)
    printed = numeric_text_length(Decimal(literal))
    _scan.growth += printed - len(json.dumps(value))
    return value


def _exact_int(literal: str) -> int:
    if len(literal.lstrip("-")) > _MAX_INT_DIGITS:
        raise NumberOutOfRange(f"metadata numbers may have at most {_MAX_INT_DIGITS} digits")
    return int(literal)


def _fast_float(literal: str) -> float:
    if "e" in literal or "E" in literal or len(literal) > _FAST_NUMBER_CHARS:
        raise ValueError("take the exact path")
    return float(literal)


def _fast_int(literal: str) -> int:
    if len(literal) > _FAST_NUMBER_CHARS:
        raise ValueError("take the exact path")
    return int(literal)


# One decoder for all rows: json.loads(..., parse_constant=) would build one per call.
# NaN/Infinity are refused because PostgreSQL's jsonb refuses them. The fast path's
# decoder sends numbers with exponents, or long ones, to the exact path, which sizes
# them as PostgreSQL will store them and refuses what it could not.
_decoder = json.JSONDecoder(
    parse_constant=_reject_constant, parse_float=_fast_float, parse_int=_fast_int
)
_exact_decoder = json.JSONDecoder(
    parse_constant=_reject_constant, parse_float=_exact_float, parse_int=_exact_int
)
_decode = _exact_decoder.decode


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def _metadata_text(raw: str) -> tuple[str | None, str | None]:
    """(JSON text safe to hand to PostgreSQL, error message)."""
    _scan.growth = 0
    try:
        value = _decode(raw)
    except NumberOutOfRange as exc:
        return None, _sentence(str(exc))
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return None, f"Metadata is not valid JSON: {reason}"
    if not isinstance(value, dict):
        return None, "Metadata must be a JSON object"
    text = raw
    if "\\u" in raw:
        # PostgreSQL refuses \u0000 and lone surrogates in jsonb: normalise, then check.
        # (A number past the double range would print as Infinity: refused.)
        try:
            number_growth(value)
        except NumberOutOfRange as exc:
            return None, _sentence(str(exc))
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if "\\u0000" in text:
            return None, "Metadata must not contain NUL characters"
        try:
            text.encode()
        except UnicodeEncodeError:
            return None, "Metadata contains an invalid Unicode escape"
    if len(raw) > _SAFE_METADATA_CHARS or _scan.growth > 0:
        # The size the API would count (compact JSON), with numbers as PostgreSQL
        # prints them.
        compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        size = len(compact.encode()) + _scan.growth
        if size > settings.PCF_METADATA_MAX_BYTES:
            return None, f"metadata is {size} bytes; at most {settings.PCF_METADATA_MAX_BYTES}"
    if raw.count("{") + raw.count("[") > settings.PCF_METADATA_MAX_DEPTH:
        depth = json_depth(value)
        if depth > settings.PCF_METADATA_MAX_DEPTH:
            return None, (
                f"metadata is nested {depth} levels deep; at most {settings.PCF_METADATA_MAX_DEPTH}"
            )
    return text, None


def _json_cell(field: str, raw: str) -> tuple[Any, str | None]:
    try:
        return _decode(raw), None
    except (ValueError, RecursionError):
        return None, f"{field} is not valid JSON"


def validate_cells(
    cells: Sequence[str], columns: Sequence[BoundColumn], width: int
) -> tuple[RowValues | None, list[CellProblem]]:
    """Validate one CSV row. An empty cell of an optional field means "not given"."""
    if len(cells) != width:
        return None, [CellProblem("row", f"Expected {width} columns, found {len(cells)}")]
    given: dict[str, str] = {}
    problems: list[CellProblem] = []
    for column in columns:
        raw = cells[column.index]
        if column.json and column.field != "metadata" and raw != "":
            value, error = _json_cell(column.field, raw)
            if error is not None:
                problems.append(CellProblem(column.field, error))
                continue
            if not isinstance(value, str):
                problems.append(CellProblem(column.field, f"{column.field} must be a string"))
                continue
            raw = value
        given[column.field] = raw
    return _check(given, problems)


def _check(
    given: dict[str, str], problems: list[CellProblem]
) -> tuple[RowValues | None, list[CellProblem]]:
    name = given.get("name", "")
    if name == "":
        problems.append(CellProblem("name", "Name is required"))
    elif len(name) > 255:
        problems.append(CellProblem("name", "Name must be at most 255 characters"))
    elif "\x00" in name:
        problems.append(CellProblem("name", "Name must not contain NUL characters"))
    kind = given.get("type", "")
    if kind == "":
        problems.append(CellProblem("type", "Type is required"))
    elif kind not in _TYPES:
        problems.append(CellProblem("type", _TYPE_MESSAGE))
    status = given.get("status") or None
    if status is not None and status not in _STATUSES:
        problems.append(CellProblem("status", _STATUS_MESSAGE))
    public_id = given.get("id") or None
    if public_id is not None and not _ID.fullmatch(public_id):
        problems.append(CellProblem("id", "id must be 1-64 ASCII letters, digits, '_' or '-'"))
    metadata = given.get("metadata") or None
    if metadata is not None:
        metadata, error = _metadata_text(metadata)
        if error is not None:
            problems.append(CellProblem("metadata", error))
    if problems:
        return None, problems
    return RowValues(public_id, name, kind, status, metadata), []


RowCheck = Callable[[Sequence[str]], tuple[RowValues | None, list[CellProblem]]]


def row_checker(columns: Sequence[BoundColumn], width: int) -> RowCheck:
    """A validator for rows of this header: `validate_cells`, with a fast path in front.

    The fast path accepts only rows every rule clearly passes (its conditions imply
    validate_cells' checks and give the same values) and hands every other row to
    validate_cells, so messages and results are those of validate_cells by construction
    (tests/imports/test_rows.py checks both on the same cases). It binds everything it
    needs once per chunk and builds no dict or list per valid row."""
    fields = {c.field: c for c in columns}
    if any(c.json and c.field != "metadata" for c in columns) or len(fields) != len(columns):
        return lambda cells: validate_cells(cells, columns, width)
    absent = width  # index of a cell that does not exist: reads as ""
    i_name = fields["name"].index if "name" in fields else absent
    i_type = fields["type"].index if "type" in fields else absent
    i_status = fields["status"].index if "status" in fields else absent
    i_id = fields["id"].index if "id" in fields else absent
    i_meta = fields["metadata"].index if "metadata" in fields else absent
    types, statuses, raw_decode = _TYPES, _STATUSES, _decoder.raw_decode
    id_ok = _ID.fullmatch
    max_meta = min(_SAFE_METADATA_CHARS, int(settings.PCF_METADATA_MAX_BYTES))
    max_depth = int(settings.PCF_METADATA_MAX_DEPTH)
    slow = validate_cells
    no_problems: list[CellProblem] = []

    def check(cells: Sequence[str]) -> tuple[RowValues | None, list[CellProblem]]:
        if len(cells) != width:
            return slow(cells, columns, width)
        padded = (*cells, "")
        name = padded[i_name]
        kind = padded[i_type]
        status = padded[i_status]
        public_id = padded[i_id]
        meta = padded[i_meta]
        if (
            not name
            or len(name) > 255
            or "\x00" in name
            or kind not in types
            or (status and status not in statuses)
            or (public_id and not id_ok(public_id))
        ):
            return slow(cells, columns, width)
        if meta:
            if (
                len(meta) > max_meta
                or "\\u" in meta
                or meta.count("{") + meta.count("[") > max_depth
            ):
                return slow(cells, columns, width)
            # raw_decode at 0 skips json.loads' two whitespace regex matches; a cell with
            # surrounding whitespace or trailing data takes the slow path.
            try:
                value, end = raw_decode(meta, 0)
            except (ValueError, RecursionError):
                return slow(cells, columns, width)
            if end != len(meta) or type(value) is not dict:
                return slow(cells, columns, width)
        return RowValues(public_id or None, name, kind, status or None, meta or None), no_problems

    return check
