"""Cutting a byte stream into CSV records, whatever the piece boundaries."""

from __future__ import annotations

import csv
import gzip

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
