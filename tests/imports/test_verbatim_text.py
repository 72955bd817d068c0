"""verbatim_text judges a whole chunk with one regular expression: it may send a chunk
that qualifies down the per-row path, never the other way round. It accepts only what
the per-row rules of verbatim_rows accept, with the same row count, and only rows the
import's own validator (imports.rows) passes, JSON syntax included: a strict import's
check pass trusts it without parsing a row. PostgreSQL takes every metadata it accepts."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from imports.rows import BoundColumn, validate_cells
from imports.verbatim import VerbatimPlan, lines_at_most, verbatim_rows, verbatim_text
from resources.parsing import json_depth

PLAN = VerbatimPlan(fields=("name", "type", "status", "metadata"), width=4)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


# Cells built from the characters that matter to CSV and to the rules: quotes, commas,
# line ends, brackets, backslashes, digits and exponents, NUL, and a little text.
_CHARS = st.sampled_from(list('ab e E1 9"{}[],:\\\r\nu\x00'))
_CELL = st.text(_CHARS, max_size=30)
_JSON = st.sampled_from(
    ['{}', '{"a":1}', '{"a":[1,2]}', '{"e":"x"}', '{"n":1e5}', '{"u":"\\u00e9"}', '[1]',
     '{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":1}}}}}}}}}}', '{"a":"x\\ny"}', ''],
)  # fmt: skip
_TYPE = st.sampled_from(["document", "image", "video", "audio", "other", "imag", "", '"image"'])
_STATUS = st.sampled_from(["draft", "active", "published", "archived", "", "Active"])


@st.composite
def _line(draw: st.DrawFn) -> str:
    name = draw(st.one_of(_CELL.map(_quoted), _CELL))
    meta = draw(st.one_of(_JSON.map(_quoted), _JSON, _CELL.map(_quoted)))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return f"{name},{draw(_TYPE)},{draw(_STATUS)},{meta}{ending}"


# JSON-ish text built from the characters that matter to its syntax: brackets, commas,
# colons, quotes, escapes, digits, signs, points, exponents, literals and whitespace.
_JSON_TOKEN_LIST = [
    '{', '}', '[', ']', ',', ':', '"', '"a"', '"b"', '\\', '\\"', '\\n', '\\x', '\\/',
    '0', '1', '9', '01', '-', '.', 'e', 'E', '+', 'true', 'false', 'null', 'nul', 'NaN',
    ' ', '\t', '\n', '\x01', 'é', '1' * 101,
]  # fmt: skip
_JSONISH = st.lists(st.sampled_from(_JSON_TOKEN_LIST), max_size=24).map("".join)
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20) + 1, 10**20 - 1) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
_COLUMNS = [BoundColumn(f, i, f == "metadata") for i, f in enumerate(PLAN.fields)]


def _passes_the_import_rules(text: str) -> bool:
    rows = _rows(text)
    return all(validate_cells(cells, _COLUMNS, PLAN.width)[0] is not None for cells in rows)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_line(), min_size=1, max_size=5))
def test_a_chunk_the_expression_accepts_passes_every_per_row_rule(lines: list[str]) -> None:
    text = "".join(lines)
    if verbatim_text(PLAN, text):
        assert verbatim_rows(PLAN, text, _rows(text)) == len(lines)
        assert _passes_the_import_rules(text)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_JSONISH, _JSONISH.map(lambda body: "{" + body + "}")))
def test_metadata_the_expression_accepts_is_valid_json_the_validator_passes(meta: str) -> None:
    text = f"n,image,active,{_quoted(meta)}\n"
    if verbatim_text(PLAN, text):
        assert isinstance(json.loads(meta), dict)
        assert _passes_the_import_rules(text)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _JSON_VALUES, max_size=4), st.sampled_from(["", " "]))
def test_plain_json_objects_take_the_expression(value: dict[str, object], space: str) -> None:
    # The fast path must fire for the metadata clients send (json.dumps of shallow
    # objects, compact or spaced), or strict imports lose it.
    meta = json.dumps(value, ensure_ascii=False, separators=("," + space, ":" + space))
    text = f"n,image,active,{_quoted(meta)}\n"
    shallow = json_depth(value) <= 4  # the expression stops at 4 levels
    if shallow and not any(ord(c) < 0x20 for c in meta) and "\\u" not in meta:
        assert verbatim_text(PLAN, text), meta


@pytest.mark.parametrize(
    "text",
    [
        'Resource 1,document,active,"{""key"":""value""}"\n',
        '"A, quoted name",image,draft,"{""tags"":[""x"",""y""],""n"":12}"\r\n',
        'n,video,published,"{""e"":""escaped \\"" quote""}"\n',
    ],
)
def test_plain_chunks_are_accepted(text: str) -> None:
    assert verbatim_text(PLAN, text)
    assert verbatim_rows(PLAN, text, _rows(text)) == 1


@pytest.mark.parametrize(
    "text",
    [
        'n,image,active,"{""a"":1e5}"\n',  # an exponent: printed size may differ
        'n,image,active,"{""a"":""\\u00e9""}"\n',  # \u: stored normalised
        'n,imag,active,"{}"\n',  # not a type
        ',image,active,"{}"\n',  # no name
        'n,image,,"{}"\n',  # no status (COPY would read NULL)
        'n,image,active,"[1]"\n',  # not an object
        'n,image,active,"{""a"":[[[[[[[[[[1]]]]]]]]]]}"\n',  # 11 brackets
        'n,image,active,"{""a"":1}"x\n',  # text after the closing quote
        'a"b,image,active,"{}"\n',  # a stray quote: Python and PostgreSQL differ
        'n,image,active,"{}",extra\n',  # a fifth cell
        "n" * 256 + ',image,active,"{}"\n',  # a name over 255
        'n,image,active,"{""a"":}"\n',  # a member without its value
        'n,image,active,"{""a"":1,}"\n',  # a trailing comma
        'n,image,active,"{""a"":[1 2]}"\n',  # a missing comma
        'n,image,active,"{""a"":01}"\n',  # a leading zero
        'n,image,active,"{""a"":1.}"\n',  # a point without digits
        'n,image,active,"{""a"":NaN}"\n',  # not JSON (PostgreSQL refuses it)
        'n,image,active,"{""a"":tru}"\n',  # a broken literal
        'n,image,active,"{""a"":1}{""b"":2}"\n',  # two objects
        "n,image,active,\"{'a':1}\"\n",  # single quotes
        'n,image,active,"{""a"":""x\ty""}"\n',  # a raw tab inside a string
        'n,image,active,"{""a"":' + "1" * 101 + '}"\n',  # a number over 100 digits
        'last row,audio,archived,"{}"',  # no line end (as the per-row rules)
    ],
)
def test_chunks_the_rules_refuse_are_refused(text: str) -> None:
    assert not verbatim_text(PLAN, text)


def test_metadata_deeper_than_the_expression_goes_row_by_row() -> None:
    # 5 levels pass the rules (the limit is 10) but not the expression (4): per row.
    text = 'n,image,active,"{""a"":{""b"":{""c"":{""d"":{""e"":1}}}}}"\n'
    assert not verbatim_text(PLAN, text)
    assert _passes_the_import_rules(text)
    assert verbatim_text(PLAN, text.replace('{""e"":1}', "1"))


def test_numbers_longer_than_the_expression_go_row_by_row() -> None:
    # 21 digits pass the rules but not the expression (20 a side): per row.
    text = 'n,image,active,"{""a"":' + "1" * 21 + '}"\n'
    assert not verbatim_text(PLAN, text)
    assert _passes_the_import_rules(text)
    assert verbatim_text(PLAN, text.replace("1" * 21, "-" + "9" * 20 + "." + "0" * 20))


def _near_json(rng: random.Random, depth: int = 0) -> list[str]:
    """Tokens of a random JSON value, often valid, sometimes one mutation away."""

    def value(level: int) -> list[str]:
        kind = rng.randrange(6 if level < 6 else 3)
        if kind == 0:
            return [rng.choice(['"a"', '"b\\"c"', '"\\n\\/"', '"é"', '""'])]
        if kind == 1:
            return [rng.choice(["0", "-1", "12.5", "-0.25", "1" * 20, "3"])]
        if kind == 2:
            return [rng.choice(["true", "false", "null"])]
        if kind == 3:
            items = [value(level + 1) for _ in range(rng.randrange(3))]
            return [
                "[",
                *[t for i, item in enumerate(items) for t in ([","] if i else []) + item],
                "]",
            ]
        members = [
            [rng.choice(['"k"', '"l"']), ":", *value(level + 1)] for _ in range(rng.randrange(3))
        ]
        return ["{", *[t for i, m in enumerate(members) for t in ([","] if i else []) + m], "}"]

    members = [
        [rng.choice(['"k"', '"l"']), rng.choice([":", " : "]), *value(1)]
        for _ in range(rng.randrange(4))
    ]
    tokens = ["{", *[t for i, m in enumerate(members) for t in ([", "] if i else []) + m], "}"]
    for _ in range(rng.choice([0, 0, 1, 2])):
        at = rng.randrange(len(tokens) + 1)
        mutation = rng.randrange(3)
        if mutation == 0:
            tokens.insert(at, rng.choice(_JSON_TOKEN_LIST))
        elif tokens and at < len(tokens):
            if mutation == 1:
                del tokens[at]
            else:
                tokens[at] = rng.choice(_JSON_TOKEN_LIST)
    return tokens


@pytest.mark.django_db
def test_postgresql_and_the_validator_take_every_metadata_the_expression_accepts() -> None:
    # given: random JSON objects, a third of them one or two mutations from valid
    rng = random.Random(12)
    accepted, refused = [], 0
    for _ in range(5_000):
        meta = "".join(_near_json(rng))
        text = f"n,image,active,{_quoted(meta)}\n"
        if verbatim_text(PLAN, text):
            accepted.append(meta)
            assert _passes_the_import_rules(text), meta
        else:
            refused += 1
    assert len(accepted) >= 2_000 and refused >= 500, (len(accepted), refused)
    # when/then: jsonb reads each accepted one as an object
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE jsonb_typeof(m::jsonb) = 'object')"
            " FROM unnest(%s::text[]) AS m",
            [accepted],
        )
        assert cursor.fetchone() == (len(accepted),)


@settings(max_examples=500, deadline=None)
@given(
    text=st.binary(max_size=80).map(lambda b: b.replace(b"\x00", b"\n")),
    longest=st.integers(0, 16),
)
def test_lines_at_most_agrees_with_measuring_every_line(text: bytes, longest: int) -> None:
    # given any bytes, with line ends anywhere, and any limit / when / then
    assert lines_at_most(text, longest) == (max(map(len, text.split(b"\n"))) <= longest)
