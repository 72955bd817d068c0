"""verbatim_text judges a whole chunk with one regular expression: it may send a chunk
that qualifies down the per-row path, never the other way round (it accepts only what
the per-row rules of verbatim_rows accept, with the same row count)."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imports.verbatim import VerbatimPlan, verbatim_rows, verbatim_text

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


@settings(max_examples=1000, deadline=None)
@given(st.lists(_line(), min_size=1, max_size=5))
def test_a_chunk_the_expression_accepts_passes_every_per_row_rule(lines: list[str]) -> None:
    text = "".join(lines)
    if verbatim_text(PLAN, text):
        assert verbatim_rows(PLAN, text, _rows(text)) == len(lines)


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
        'last row,audio,archived,"{}"',  # no line end (as the per-row rules)
    ],
)
def test_chunks_the_rules_refuse_are_refused(text: str) -> None:
    assert not verbatim_text(PLAN, text)
