"""The verbatim fast path of CSV import chunks: when the chunk's text can go to
PostgreSQL's COPY exactly as uploaded, no row is re-serialised in Python and the
metadata JSON is parsed once, by PostgreSQL.

A chunk qualifies when every header column is mapped to a field PostgreSQL can take as
it is (name, type, status, metadata; not client ids, not upserts, not dry runs), its text
is strict RFC 4180, and every row passes the import rules with nothing left out. Whatever
does not qualify, and whatever PostgreSQL refuses (bad JSON), takes the general path,
which reports each bad row; so both paths accept and write exactly the same rows."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import re2
from django.conf import settings

from imports.rows import BoundColumn
from resources.parsing import STATUSES, TYPES
from resources.services import VERBATIM_FIELDS, RowValues

# Quotes only around whole fields, doubled inside them, one record per line end. Python's
# csv module and PostgreSQL read such text the same way; they differ on a stray quote in
# an unquoted field (Python keeps it, PostgreSQL starts quoting there), so that text never
# goes verbatim. Possessive quantifiers: one linear pass, no backtracking.
_FIELD = r'(?:"[^"]*+(?:""[^"]*+)*+"|[^",\r\n]*+)'
RFC4180_RECORDS = re.compile(rf"(?:{_FIELD}(?:,{_FIELD})*+\r?\n)*+")

# A number with an exponent may print longer in PostgreSQL (1e300: 301 digits) than the
# size limit allows, and a very long one may not fit `numeric` or Python's integers:
# the general path sizes and checks those (a string holding such a pattern just takes
# the general path too).
_RISKY_NUMBER = re.compile(r"[0-9][eE]|[0-9]{300}")

# The memo of a checked chunk that can go verbatim: its row count (a strict import's
# check, at upload or in the check pass; the apply pass then only COPies it).
VERBATIM_ROWS = "verbatim_rows"

_TYPES = frozenset(TYPES)
_STATUSES = frozenset(STATUSES)
# As imports.rows: raw metadata under this many characters cannot exceed the byte limit.
_SAFE_METADATA_CHARS = 14_000


@dataclass(frozen=True)
class VerbatimPlan:
    """The COPY column list (the header's fields, in header order) and the row width."""

    fields: tuple[str, ...]
    width: int


def verbatim_plan(
    options: dict[str, Any], header: Sequence[str], columns: Sequence[BoundColumn]
) -> VerbatimPlan | None:
    """The plan for chunks of this import, or None when its rows must be re-written."""
    if options.get("upsert") or options.get("dry_run"):
        return None
    by_index = {c.index: c for c in columns}
    if len(by_index) != len(header) or len(columns) != len(header):
        return None  # an unmapped column, or one column mapped twice
    fields = tuple(by_index[i].field for i in range(len(header)))
    if len(set(fields)) != len(fields) or not set(fields) <= VERBATIM_FIELDS:
        return None
    if any(c.json and c.field != "metadata" for c in columns):
        return None
    if "name" not in fields or "type" not in fields:
        return None
    return VerbatimPlan(fields=fields, width=len(header))


# The whole-chunk form of the import rules: one RE2 expression per plan, matched once
# over the chunk's UTF-8 bytes (a DFA: one pass, ~450 MB/s here, against ~80 MB/s for
# Python's re). A chunk that matches passes every rule of imports.rows without a row
# being parsed in Python. Anything the expression is unsure about does not match, and
# takes the per-row path. RE2 counts characters, not bytes, in UTF-8.
_NAME = r'(?:"[^"\x00]{1,255}"|[^",\r\n\x00]{1,255})'
_TYPE = '(?:{0}|"(?:{0})")'.format("|".join(TYPES))
_STATUS = '(?:{0}|"(?:{0})")'.format("|".join(STATUSES))

# Metadata: a JSON object as a quoted CSV field on one line (quotes doubled). Strings
# without control characters or \u escapes (the general path stores those normalised);
# numbers without exponents and with a bounded number of digits each side of the point
# (they print and fit in PostgreSQL as they are written).
_WS = r"[ \t]*"
_STRING = r'""(?:[^"\\\x00-\x1f]|\\[\\/bfnrt]|\\"")*""'


def _number(digits: int) -> str:
    return rf"-?(?:0|[1-9][0-9]{{0,{digits - 1}}})(?:\.[0-9]{{1,{digits}}})?"


def _chunk_expression(fields: tuple[str, ...], metadata: str) -> str:
    cell = {"name": _NAME, "type": _TYPE, "status": _STATUS, "metadata": metadata}
    row = ",".join(cell[f] for f in fields)
    return rf"(?:{row}\r?\n)*"


def _compiled(expression: str, max_mem: int) -> Any:
    options = re2.Options()
    options.max_mem = max_mem
    options.log_errors = False  # a DFA out of memory falls back to RE2's NFA, silently
    return re2.compile(expression.encode(), options)


# The exact form, which a strict import's check pass trusts: JSON syntax proved too.
# A DFA pairs brackets by kind only by copying the grammar at every level (the size
# quadruples per level), so it stops at _EXACT_DEPTH levels and numbers of at most
# _EXACT_DIGITS digits a side (int64s and doubles as JSON encoders print them); deeper
# or longer metadata takes the per-row path. A comma must be followed by another item.
_EXACT_DEPTH = 4
_EXACT_DIGITS = 20
_EXACT_SCALAR = rf"(?:{_STRING}|{_number(_EXACT_DIGITS)}|true|false|null)"


def _items(item: str) -> str:
    return rf"(?:{item}(?:{_WS},{_WS}{item})*)?{_WS}"


def _exact_value(depth: int) -> str:
    """A JSON value nested at most `depth` containers deep."""
    if depth == 0:
        return _EXACT_SCALAR
    inner = _exact_value(depth - 1)
    array = rf"\[{_WS}{_items(inner)}\]"
    members = _items(rf"{_STRING}{_WS}:{_WS}{inner}")
    return rf"(?:{_EXACT_SCALAR}|{array}|\{{{_WS}{members}\}})"


@functools.cache
def _exact_pattern(fields: tuple[str, ...], depth: int) -> Any:
    depth = min(depth, _EXACT_DEPTH)
    members = _items(rf"{_STRING}{_WS}:{_WS}{_exact_value(depth - 1)}")
    metadata = rf'"{_WS}\{{{_WS}{members}\}}{_WS}"'
    return _compiled(_chunk_expression(fields, metadata), 32 << 20)


# The loose form, for the apply pass: the same rules, but JSON well-formedness left to
# PostgreSQL, which parses the metadata as COPY reads it and refuses the whole COPY
# (nothing written) when one is not JSON: then the chunk takes the per-row path. Without
# bracket kinds to pair it grows by one copy per level: the full depth limit and 100
# digits fit RE2's default memory. It still proves everything else: containers nest by
# brackets, so depth counts true; strings, numbers and literals are the tokens above;
# and a number is followed by a comma or is its container's last item, so no two
# numbers ever read as one longer number that JSON would take whole.
_LOOSE_NUMBER = _number(100)
_LOOSE_DEPTH = 64  # bounds the expression's size, whatever the setting says


def _loose_items(value: str, key: str) -> str:
    """A container's items up to its closing bracket: `key` then a value; after any
    value but a number the comma may be missing (PostgreSQL refuses that)."""
    return (
        rf"(?:{key}{value}{_WS},?{_WS}|{key}{_LOOSE_NUMBER}{_WS},{_WS})*"
        rf"(?:{key}{_LOOSE_NUMBER}{_WS})?"
    )


def _loose_value(depth: int) -> str:
    """Any JSON value but a number, in containers nested at most `depth` deep."""
    scalar = rf"(?:{_STRING}|true|false|null)"
    if depth == 0:
        return scalar
    key = rf"(?:{_STRING}{_WS}:{_WS})?"
    items = _loose_items(_loose_value(depth - 1), key)
    return rf"(?:{scalar}|[\[{{]{_WS}{items}[\]}}])"


@functools.cache
def _loose_pattern(fields: tuple[str, ...], depth: int) -> Any:
    depth = min(depth, _LOOSE_DEPTH)
    items = _loose_items(_loose_value(depth - 1), rf"{_STRING}{_WS}:{_WS}")
    metadata = rf'"{_WS}\{{{_WS}{items}\}}{_WS}"'
    return _compiled(_chunk_expression(fields, metadata), 8 << 20)


def _text_qualifies(plan: VerbatimPlan, text: bytes) -> bool:
    """What the expressions leave out: no line longer than metadata may be (its limit
    is in bytes; metadata must sit on one line, so no longer line means no longer
    metadata). NUL and \\u escapes (which the general path stores normalised) need no
    search: neither expression lets them through."""
    if not text:
        return False
    if "metadata" in plan.fields:
        if int(settings.PCF_METADATA_MAX_DEPTH) < 1:
            return False
        longest = min(_SAFE_METADATA_CHARS, int(settings.PCF_METADATA_MAX_BYTES))
        if not lines_at_most(text, longest):
            return False
    return True


def lines_at_most(text: bytes, longest: int) -> bool:
    """True if no line of `text` is longer than `longest` bytes (line ends excluded).
    Without a look at each line: a line of 2 * (longest // 2) bytes or more holds a whole
    aligned block of longest // 2 bytes, so when every such block has a line end, no
    line is that long (one memchr per block); else the lines are measured."""
    block = longest // 2
    if block > 0 and all(
        text.find(b"\n", start, start + block) >= 0
        for start in range(0, len(text) - block + 1, block)
    ):
        return True
    return max(map(len, text.split(b"\n"))) <= longest


def verbatim_text(plan: VerbatimPlan, text: str | bytes) -> bool:
    """True if every row of `text` certainly passes every import rule, the JSON syntax
    of its metadata included, and can be copied as it is; judged without parsing a row
    in Python: one expression over the whole chunk and a look at its line lengths. A
    strict import's check pass trusts it."""
    data = text.encode() if isinstance(text, str) else text
    if not _text_qualifies(plan, data):
        return False
    pattern = _exact_pattern(plan.fields, int(settings.PCF_METADATA_MAX_DEPTH))
    return pattern.fullmatch(data) is not None


def verbatim_candidate(plan: VerbatimPlan, text: bytes) -> bool:
    """True if every row of `text` (UTF-8) passes every import rule but, perhaps, the
    JSON syntax of its metadata, and can be copied as it is: PostgreSQL's COPY checks
    that syntax and refuses the whole chunk if one is not JSON. For the apply pass, not
    for a strict import's check pass, whose verdict must be final."""
    if not _text_qualifies(plan, text):
        return False
    pattern = _loose_pattern(plan.fields, int(settings.PCF_METADATA_MAX_DEPTH))
    return pattern.fullmatch(text) is not None


def verbatim_rows(plan: VerbatimPlan, text: str, rows: Iterable[Sequence[str]]) -> int | None:
    """How many rows `text` holds if all of it can be copied verbatim, else None.

    `rows` are the cells of `text` as Python's csv module reads them. A row qualifies when
    import_csv_chunk's rules clearly pass (the same conditions as imports.rows'
    fast path) with every field given, except that metadata's JSON syntax is left to
    PostgreSQL: a text that starts with `{`, ends with `}` and parses is an object."""
    if not RFC4180_RECORDS.fullmatch(text):
        return None
    position = {field: i for i, field in enumerate(plan.fields)}
    absent = plan.width  # reads as "" in the padded row; only for fields not in the file
    i_name, i_type = position["name"], position["type"]
    i_status = position.get("status", absent)
    i_meta = position.get("metadata", absent)
    has_status, has_meta = "status" in position, "metadata" in position
    width = plan.width
    types, statuses = _TYPES, _STATUSES
    max_meta = min(_SAFE_METADATA_CHARS, int(settings.PCF_METADATA_MAX_BYTES))
    max_depth = int(settings.PCF_METADATA_MAX_DEPTH)
    risky_number = _RISKY_NUMBER.search
    count = 0
    for cells in rows:
        if len(cells) != width:
            return None
        padded = (*cells, "")
        name = padded[i_name]
        if not name or len(name) > 255 or "\x00" in name or padded[i_type] not in types:
            return None
        if has_status and padded[i_status] not in statuses:
            return None  # an empty status, too: COPY would read it as NULL
        if has_meta:
            meta = padded[i_meta]
            if (
                len(meta) < 2
                or meta[0] != "{"
                or meta[-1] != "}"
                or len(meta) > max_meta
                or "\\u" in meta
                or meta.count("{") + meta.count("[") > max_depth
                or risky_number(meta)
            ):
                return None
        count += 1
    return count


def verbatim_rows_checked(
    plan: VerbatimPlan, text: str, checked: Iterable[tuple[Sequence[str], RowValues]]
) -> int | None:
    """verbatim_rows for rows that already passed every import rule (the check pass of a
    strict import), without looking at them again: only what a valid row may still lack
    for a verbatim COPY is checked, i.e. every field given (COPY reads an empty cell as
    NULL) and metadata without \\u escapes (the general path stores those normalised)."""
    if not RFC4180_RECORDS.fullmatch(text):
        return None
    position = {field: i for i, field in enumerate(plan.fields)}
    i_meta = position.get("metadata")
    has_status = "status" in position
    count = 0
    for cells, values in checked:
        if has_status and values.status is None:
            return None
        if i_meta is not None:
            meta = cells[i_meta]
            if not meta or "\\u" in meta:
                return None
        count += 1
    return count
