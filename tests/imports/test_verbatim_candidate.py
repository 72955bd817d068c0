"""verbatim_candidate is the apply pass's whole-chunk test (RE2, on UTF-8 bytes): it
proves every import rule but the JSON syntax of metadata, which PostgreSQL checks as COPY
reads it. So whatever it accepts and PostgreSQL takes as JSON must pass the import's own
validator, and it must accept whatever the strict check's verbatim_text accepts."""

from __future__ import annotations

import json
import random

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from imports.verbatim import verbatim_candidate, verbatim_rows, verbatim_text
from tests.imports.test_verbatim_text import (
    _JSONISH,
    PLAN,
    _line,
    _near_json,
    _passes_the_import_rules,
    _quoted,
    _rows,
)


def _accepts(text: str) -> bool:
    return verbatim_candidate(PLAN, text.encode())


def _is_json(meta: str) -> bool:
    """JSON as PostgreSQL reads it: Python's parser without its NaN/Infinity extension."""
    try:
        json.loads(meta, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    except ValueError:
        return False
    return True


@settings(max_examples=1000, deadline=None)
@given(st.lists(_line(), min_size=1, max_size=5))
def test_chunks_it_accepts_pass_every_rule_once_their_json_parses(lines: list[str]) -> None:
    text = "".join(lines)
    if verbatim_text(PLAN, text):
        assert _accepts(text)  # never slower than the strict check's expression
    if _accepts(text) and all(_is_json(cells[3]) for cells in _rows(text)):
        assert verbatim_rows(PLAN, text, _rows(text)) == len(lines)
        assert _passes_the_import_rules(text)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_JSONISH, _JSONISH.map(lambda body: "{" + body + "}")))
def test_metadata_it_accepts_is_an_object_the_validator_passes_once_it_parses(meta: str) -> None:
    text = f"n,image,active,{_quoted(meta)}\n"
    if _accepts(text) and _is_json(meta):
        assert isinstance(json.loads(meta), dict)
        assert _passes_the_import_rules(text)


@pytest.mark.parametrize(
    "meta",
    [
        '{"a":' + "1" * 101 + "}",  # one number over 100 digits ...
        '{"a":[' + "1" * 150 + "]}",  # ... cannot pass as two numbers without a comma
        '{"a":1.' + "1" * 101 + "}",
        '{"a":1e5}',  # an exponent
        '{"a":"\\u00e9"}',  # \u: stored normalised
        '{"a":"x\ty"}',  # a raw tab inside a string
        "[1]",  # not an object
        '{"a":[[[[[[[[[[1]]]]]]]]]]}',  # 11 levels: over the limit of 10
        '{"a":1]',  # the outer brackets must pair
        "{'a':1}",
    ],
)
def test_metadata_the_rules_refuse_is_refused(meta: str) -> None:
    assert not _accepts(f"n,image,active,{_quoted(meta)}\n")


@pytest.mark.parametrize(
    "meta",
    [
        '{"a":[1,2]}',
        '{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":1}}}}}}}}}}',  # 10 levels
        '{ "a" : [ 1 , "x" , true , null , -0.5 ] , "b" : { } }',
        '{"é":"ü","n":' + "9" * 100 + "." + "9" * 100 + "}",
    ],
)
def test_metadata_within_the_rules_is_accepted(meta: str) -> None:
    text = f"n,image,active,{_quoted(meta)}\n"
    assert _accepts(text)
    assert _passes_the_import_rules(text)


def test_unicode_names_count_characters_not_bytes() -> None:
    assert _accepts("é" * 255 + ',image,active,"{}"\n')
    assert not _accepts("é" * 256 + ',image,active,"{}"\n')


@pytest.mark.django_db
def test_postgresql_takes_what_python_takes_and_the_validator_passes_it() -> None:
    # given: random JSON objects, a third of them one or two mutations from valid
    rng = random.Random(7)
    accepted: list[str] = []
    for _ in range(5_000):
        meta = "".join(_near_json(rng))
        if _accepts(f"n,image,active,{_quoted(meta)}\n"):
            accepted.append(meta)
    valid = [_is_json(meta) for meta in accepted]
    assert sum(valid) >= 2_000 and valid.count(False) >= 50, (sum(valid), len(valid))
    # when: PostgreSQL reads each one as jsonb
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION pg_temp.takes(t text) RETURNS boolean LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM t::jsonb; RETURN true;"
            " EXCEPTION WHEN others THEN RETURN false; END $$"
        )
        cursor.execute(
            "SELECT pg_temp.takes(m) FROM unnest(%s::text[]) WITH ORDINALITY AS u(m, i) ORDER BY i",
            [accepted],
        )
        taken = [row[0] for row in cursor.fetchall()]
    # then: it takes exactly the valid ones, and those pass the import's own rules
    assert taken == valid
    for meta, ok in zip(accepted, valid, strict=True):
        if ok:
            assert _passes_the_import_rules(f"n,image,active,{_quoted(meta)}\n"), meta
