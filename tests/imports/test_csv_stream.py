"""Cutting a byte stream into CSV records, whatever the piece boundaries."""

from __future__ import annotations

import csv
import gzip
import sys
import time
from collections.abc import Iterable, Iterator
from itertools import chain

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imports.csv_stream import Records, plain_bytes, record_batches, utf8_pieces
from pcf.exceptions import PayloadTooLarge, ValidationError

TEXT = (
    "\ufeffname,type,metadata\r\n\r\n"
    '"a, b",document,"{""k"": ""line1\nline2""}"\r\n'
    '"quote ""x""",image,{}\n'
    "\n   \n"
    "plain,video,\r\n"
    "last,audio,{}"
)


def each_record(runs: Iterable[Records]) -> list[str]:
    """The records of `runs` one by one, as text."""
    found = []
    for run in runs:
        while run.count > 1:
            one, run = run.split(1)
            found.append(one.data.decode())
        if run.count:
            found.append(run.data.decode())
    return found


def records(data: bytes, piece: int) -> list[list[str]]:
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
    runs = record_batches(utf8_pieces(plain_bytes(pieces, max_bytes=10**6)))
    return list(csv.reader(each_record(runs)))


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 64, 10_000])
def test_records_do_not_depend_on_piece_size(piece: int) -> None:
    # given: the same file cut at every possible place, plain and gzipped
    for data in (TEXT.encode(), gzip.compress(TEXT.encode())):
        # when
        got = records(data, piece)
        # then: the header plus 4 rows, blank lines gone, quoted newline kept
        assert got == [
            ["name", "type", "metadata"],
            ["a, b", "document", '{"k": "line1\nline2"}'],
            ['quote "x"', "image", "{}"],
            ["plain", "video", ""],
            ["last", "audio", "{}"],
        ]


def test_size_cap_counts_inflated_bytes() -> None:
    data = gzip.compress(b"x" * 5000)
    with pytest.raises(PayloadTooLarge):
        list(plain_bytes([data], max_bytes=4000))


def test_an_unclosed_quote_at_the_end_is_a_400() -> None:
    # given: the last field opens a quote that never closes
    data = b'name,type\nok,image\n"open,image\nmore\n'
    # when/then
    with pytest.raises(ValidationError, match="malformed"):
        records(data, 7)


def test_a_bare_cr_or_line_separator_inside_a_field_does_not_cut_the_row() -> None:
    # given: characters str.splitlines would cut at, inside quoted and unquoted cells
    data = 'name,type\n"a\rb",image\nc\u2028d,video\n'.encode()
    # when/then: two rows, cells intact
    assert records(data, 3) == [["name", "type"], ["a\rb", "image"], ["c\u2028d", "video"]]


def _cut(text: str, piece: int, limit: int) -> list[str]:
    data = text.encode()
    pieces = (data[i : i + piece] for i in range(0, len(data), piece))
    return each_record(record_batches(pieces, max_record_bytes=limit))


@pytest.mark.parametrize(
    ("tail", "line"),
    [
        ("a" * 3_000_000, 4),  # a line that never ends
        ('"open,image\n' + "x,image\n" * 400_000, 4),  # a quote that never closes
        ("ok,image\n" + "b" * 2_000 + "é" * 600, 5),  # 3,200 bytes in 2,600 characters
    ],
)
def test_a_record_over_the_cap_is_a_400_naming_its_line(tail: str, line: int) -> None:
    # given a file (header, blank line, a row) whose record at `line` passes a 3,000-byte cap
    text = "name,type\n\nok,image\n" + tail
    # when it is cut in small pieces
    with pytest.raises(ValidationError) as raised:
        _cut(text, 1_000, 3_000)
    # then the error names the line where the record starts
    assert raised.value.details[0]["field"] == "file"
    assert f"line {line} " in raised.value.details[0]["message"]


def test_a_record_at_the_cap_is_kept_whole_across_pieces() -> None:
    # given a quoted record of exactly the cap, line end included, and one over it
    cell = "x" * (3_000 - len('"",image\n'))
    exact = f'name,type\n"{cell}",image\n'
    # when cut in pieces of 7 characters / then it is one record
    assert _cut(exact, 7, 3_000)[1] == f'"{cell}",image\n'
    with pytest.raises(ValidationError):
        _cut(exact.replace(cell, cell + "x"), 7, 3_000)


def _within_cpu_budget(pieces: Iterator[bytes], seconds: float) -> Iterator[bytes]:
    """The pieces, failing the test once the process has spent `seconds` of CPU."""
    started = time.process_time()
    for piece in pieces:
        assert time.process_time() - started < seconds, "cutting is not linear"
        yield piece


@pytest.mark.parametrize("piece", [16, 4096])
def test_a_line_without_end_costs_no_more_than_the_cap(piece: int) -> None:
    # given a 256 MiB line with no line end, arriving in small pieces: re-copying or
    # re-scanning the unfinished record on every piece is quadratic (hours here)
    size = 256 * 1024**2
    data = ((b"z" * piece) for _ in range(size // piece))
    # when it is cut (default cap: 1 MiB), with 10 s of CPU at most
    with pytest.raises(ValidationError) as raised:
        for _ in record_batches(_within_cpu_budget(chain([b"name,type\n"], data), 10)):
            pass
    # then it is refused at the cap, naming line 2
    assert "line 2 " in raised.value.details[0]["message"]


def reference_records(text: str) -> list[str]:
    """The rule the cutter implements, one line at a time on the whole text: a record
    ends at a line end after an even number of quotes; blank records are not rows."""
    found, parts, quoted = [], [], False
    for line in text.split("\n")[:-1]:
        quoted ^= line.count('"') % 2 == 1
        parts.append(line + "\n")
        if not quoted:
            record = "".join(parts)
            parts = []
            if not record.isspace():
                found.append(record)
    last = "".join(parts) + text.split("\n")[-1]
    if last.strip():
        found.append(last + "\n")
    return found


# Lines made of what trips the cutter: quotes, commas, white space of every kind.
LINE = st.text(alphabet=st.sampled_from('a,"\r \t\x1c\x85\u3000\u2028\u00e9'), max_size=12)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(LINE, min_size=1, max_size=40), piece=st.integers(1, 64))
def test_cutting_agrees_with_the_rule_line_by_line(lines: list[str], piece: int) -> None:
    # given text whose lines close their quotes or not, blank in any Unicode white space
    text = "\n".join(lines) + "\n"
    if text.count('"') % 2:
        text += '"\n'  # an open quote at the end is a 400 (tested above)
    data = text.encode()
    # when it is cut in pieces of any size (whole runs of lines take the fast path)
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
    got = each_record(record_batches(pieces))
    # then the records are those of the reference rule
    assert got == reference_records(text)


def test_white_space_lines_are_blank_exactly_as_str_isspace_says() -> None:
    # given one line of each character Python calls white space (but the line end),
    # each among plain rows, in one piece (the fast path's test) and in small ones
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and c != 10]
    text = "name\n" + "".join(f"row{i}\n{s}{s}\n" for i, s in enumerate(spaces)) + "x\xa0y\n"
    for piece in (len(text.encode()), 5):
        # when / then: every white-space line is dropped, a line with a letter is kept
        assert _cut(text, piece, 1000) == [
            "name\n",
            *(f"row{i}\n" for i in range(len(spaces))),
            "x\xa0y\n",
        ]


def test_a_split_run_keeps_record_boundaries() -> None:
    # given a run of records with a quoted line end, and a plain run
    quoted = Records.of([b'"a\nb",x\n', b"c,y\n", b'"d\n\ne",z\n'])
    plain = Records(b"1\n2\n3\n", 3)
    # when each is split after two records / then each part holds whole records
    for run, first, rest in (
        (quoted, b'"a\nb",x\nc,y\n', b'"d\n\ne",z\n'),
        (plain, b"1\n2\n", b"3\n"),
    ):
        head, tail = run.split(2)
        assert (head.data, head.count, tail.data, tail.count) == (first, 2, rest, 1)
    assert quoted.split(1)[1].split(1)[1].data == b'"d\n\ne",z\n'
