"""Cutting a byte stream into CSV records, whatever the piece boundaries."""

from __future__ import annotations

import csv
import gzip
import time
from collections.abc import Iterator
from itertools import chain

import pytest

from imports.csv_stream import decoded_text, plain_bytes, record_batches
from pcf.exceptions import PayloadTooLarge, ValidationError

TEXT = (
    "\ufeffname,type,metadata\r\n\r\n"
    '"a, b",document,"{""k"": ""line1\nline2""}"\r\n'
    '"quote ""x""",image,{}\n'
    "\n   \n"
    "plain,video,\r\n"
    "last,audio,{}"
)


def records(data: bytes, piece: int) -> list[list[str]]:
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
    text = decoded_text(plain_bytes(pieces, max_bytes=10**6))
    return list(csv.reader([r for batch in record_batches(text) for r in batch]))


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
    pieces = (text[i : i + piece] for i in range(0, len(text), piece))
    return [r for batch in record_batches(pieces, max_record_bytes=limit) for r in batch]


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


def _within_cpu_budget(pieces: Iterator[str], seconds: float) -> Iterator[str]:
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
    text = (("z" * piece) for _ in range(size // piece))
    # when it is cut (default cap: 1 MiB), with 10 s of CPU at most
    with pytest.raises(ValidationError) as raised:
        for _ in record_batches(_within_cpu_budget(chain(["name,type\n"], text), 10)):
            pass
    # then it is refused at the cap, naming line 2
    assert "line 2 " in raised.value.details[0]["message"]
