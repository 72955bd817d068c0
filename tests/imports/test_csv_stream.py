"""Cutting a byte stream into CSV records, whatever the piece boundaries."""

from __future__ import annotations

import csv
import gzip

import pytest

from imports.csv_stream import decoded_text, plain_bytes, record_batches
from pcf.exceptions import PayloadTooLarge

TEXT = (
    "\ufeffname,type,metadata\r\n\r\n"
    '"a, b",document,"{""k"": ""line1\nline2""}"\r\n'
    '"quote ""x""",image,{}\n'
    "\n   \n"
    "plain,video,\r\n"
    "last,audio,{}"
)


def records(data: bytes, piece: int) -> list[str]:
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
    text = decoded_text(plain_bytes(pieces, max_bytes=10**6))
    return [r for batch in record_batches(text) for r in batch]


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 64, 10_000])
def test_records_do_not_depend_on_piece_size(piece: int) -> None:
    # given: the same file cut at every possible place, plain and gzipped
    for data in (TEXT.encode(), gzip.compress(TEXT.encode())):
        # when
        got = records(data, piece)
        # then: the header plus 4 rows, blank lines gone, quoted newline kept
        rows = list(csv.reader(got))
        assert rows == [
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
