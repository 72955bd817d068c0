"""References to earlier results: `{op1.body.data.id}` inside an operation's path or body.

A placeholder is `{<op id>.<key>.<key>...}`, walking the earlier operation's result
(`status`, `body`); a numeric key indexes a list. It is a reference only when its first
part names an operation of the batch, so other braces in user data stay literal.
A body string that is exactly one placeholder takes the referenced value with its JSON
type; a placeholder inside longer text is replaced by the value's text."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from pcf.exceptions import field_error

PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_-]{1,64})((?:\.[A-Za-z0-9_-]+)+)\}")

Lookup = Callable[[str], Any]  # op id -> its result as {"status", "body"}
# A list index in a reference (`{op1.body.data.3.id}`): a GET answers at most 500 rows,
# so 6 digits is ample, and Python's int() refuses over 4,300 (a ValueError, once a 500).
MAX_INDEX_DIGITS = 6


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def referenced_ids(values: list[Any], known: Mapping[str, int]) -> list[str]:
    """Ids of the operations referenced anywhere in `values` (in order, repeated)."""
    return [
        match.group(1)
        for text in (s for value in values for s in _strings(value))
        for match in PLACEHOLDER.finditer(text)
        if match.group(1) in known
    ]


def check_indexes(values: list[Any]) -> None:
    """Raise VALIDATION_ERROR for a reference whose numeric key has too many digits."""
    for text in (s for value in values for s in _strings(value)):
        for match in PLACEHOLDER.finditer(text):
            for key in match.group(2)[1:].split("."):
                if key.isdigit() and len(key) > MAX_INDEX_DIGITS:
                    raise field_error(
                        "reference",
                        f"{match.group(0)[:80]}: a list index has at most "
                        f"{MAX_INDEX_DIGITS} digits",
                    )


def _walk(result: Any, placeholder: str, keys: list[str]) -> Any:
    value = result
    for key in keys:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif (
            isinstance(value, list)
            and key.isdigit()
            and len(key) <= MAX_INDEX_DIGITS
            and int(key) < len(value)
        ):
            value = value[int(key)]
        else:
            raise field_error("reference", f"{placeholder[:80]} does not resolve ({key[:80]!r})")
    return value


def _value(match: re.Match[str], lookup: Lookup) -> Any:
    return _walk(lookup(match.group(1)), match.group(0), match.group(2)[1:].split("."))


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def resolve_text(text: str, lookup: Lookup, known: Mapping[str, int], *, url: bool) -> Any:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) not in known:
            return match.group(0)
        rendered = _as_text(_value(match, lookup))
        # In a path the value stays one segment: `/` and `?` cannot sneak in.
        return quote(rendered, safe="") if url else rendered

    if not url:
        whole = PLACEHOLDER.fullmatch(text)
        if whole and whole.group(1) in known:
            return _value(whole, lookup)
    return PLACEHOLDER.sub(replace, text)


def resolve_body(value: Any, lookup: Lookup, known: Mapping[str, int]) -> Any:
    """A copy of `value` with every reference in its strings resolved."""
    if isinstance(value, str):
        return resolve_text(value, lookup, known, url=False)
    if isinstance(value, dict):
        return {k: resolve_body(v, lookup, known) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_body(item, lookup, known) for item in value]
    return value
