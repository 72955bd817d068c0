"""Turning the command line's `a=b,c=d` options into the API's objects."""

from __future__ import annotations

import json
from typing import Any

import click


def parse_mapping(text: str | None) -> dict[str, Any] | None:
    """`name=Name,type=Type,metadata=json:Meta` → the import's `mapping` (a column
    prefixed `json:` is parsed as JSON)."""
    if not text:
        return None
    mapping: dict[str, Any] = {}
    for pair in text.split(","):
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise click.BadParameter(f"expected field=Column, got {pair!r}", param_hint="--mapping")
        column = column.strip()
        if column.startswith("json:"):
            mapping[field.strip()] = {"type": "json", "field": column.removeprefix("json:")}
        else:
            mapping[field.strip()] = column
    return mapping


def parse_pairs(pairs: tuple[str, ...], option: str) -> dict[str, Any]:
    """Repeated `key=value` options; a value that reads as JSON (a number, true, an
    object) is taken as JSON, anything else as text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint=option)
        try:
            out[key] = (
                json.loads(value) if value[:1] in "{[" or value in ("true", "false") else value
            )
        except ValueError:
            out[key] = value
        if key == "ids" and isinstance(out[key], str):
            out[key] = [v for v in out[key].split(",") if v]
    return out
