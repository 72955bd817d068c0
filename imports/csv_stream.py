"""Bytes in, CSV records out, in bounded memory.

An upload arrives as byte pieces. These generators inflate gzip (detected by its magic
bytes, so a `.gz` file part works whatever its name), enforce the size cap while
streaming, check UTF-8 (with or without BOM) incrementally, and cut the bytes into
whole CSV records: a record ends at a line end outside quotes, so a quoted field may
hold commas, doubled quotes and newlines. Blank lines are dropped: they are not rows.
Nothing here ever holds more than one piece plus one unfinished record, and one
record is capped (MAX_RECORD_BYTES), so a line without end, or everything after a
quote that never closes, costs at most the cap, in time linear in the input."""

from __future__ import annotations

import codecs
import functools
import itertools
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import re2

from pcf.exceptions import PayloadTooLarge, ValidationError, field_detail, field_error

GZIP_MAGIC = b"\x1f\x8b"
# Inflate at most this much per step: a gzip bomb costs bounded memory and work.
INFLATE_STEP = 1024 * 1024


def _gunzip(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    pending = first
    while True:
        if not pending:
            pending = next(rest, b"")
            if not pending:
                break
        try:
            data = inflater.decompress(pending, INFLATE_STEP)
        except zlib.error:
            raise field_error("file", "The file is not valid gzip data") from None
        if data:
            yield data
        if inflater.eof:
            # Concatenated gzip members are one file (RFC 1952).
            pending = inflater.unused_data
            if pending:
                inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        else:
            pending = inflater.unconsumed_tail
    if not inflater.eof:
        raise field_error("file", "The file is truncated gzip data")


def plain_bytes(pieces: Iterable[bytes], *, max_bytes: int) -> Iterator[bytes]:
    """The file's bytes, inflated if gzip; PayloadTooLarge once they pass `max_bytes`."""
    source = (p for p in pieces if p)
    first = next(source, b"")
    while len(first) < 2:
        more = next(source, b"")
        if not more:
            break
        first += more
    stream = _gunzip(first, source) if first.startswith(GZIP_MAGIC) else _chain(first, source)
    total = 0
    for piece in stream:
        total += len(piece)
        if total > max_bytes:
            raise PayloadTooLarge(f"The file is larger than {max_bytes} bytes")
        yield piece


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def utf8_pieces(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The byte pieces, checked to be UTF-8 text without NUL, a leading BOM dropped.
    Undecodable input, or a NUL byte, is a 400 naming the byte offset, so the user can
    find it. The text stays bytes: records are cut, tested and stored as UTF-8 (a line
    end is one byte that no other character's encoding contains)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    head: bytes | None = b""  # the file's first bytes until there are enough to see a BOM
    for piece in pieces:
        try:
            decoder.decode(piece)
        except UnicodeDecodeError as exc:
            raise _undecodable(offset + exc.start) from None
        nul = piece.find(b"\x00")
        if nul >= 0:
            # PostgreSQL text cannot hold U+0000: not a CSV any field could keep.
            raise ValidationError(
                "The file contains a NUL character",
                details=[field_detail("file", f"NUL byte at byte {offset + nul}")],
            )
        offset += len(piece)
        if head is not None:
            head += piece
            if len(head) < len(codecs.BOM_UTF8):
                continue
            piece, head = _without_bom(head), None
        if piece:
            yield piece
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise _undecodable(offset + exc.start) from None
    if head:  # a file shorter than a BOM
        yield head


def _without_bom(data: bytes) -> bytes:
    return data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data


def _undecodable(position: int) -> ValidationError:
    return ValidationError(
        "The file is not UTF-8 text",
        details=[field_detail("file", f"Invalid UTF-8 at byte {position}")],
    )


# One CSV record (a row with its quoted newlines) may be at most this many UTF-8 bytes
# by default (PCF_CSV_MAX_RECORD_BYTES): a longer one is no row anyone means to import.
MAX_RECORD_BYTES = 1024 * 1024


def _record_too_long(line: int, limit: int) -> ValidationError:
    return ValidationError(
        "The CSV file has a record that is too long",
        details=[
            field_detail("file", f"The record starting at line {line} is longer than {limit} bytes")
        ],
    )


# The ASCII characters str.isspace() takes for white space: a record of only these (and
# the others below) is blank, not a row.
_ASCII_SPACE = b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "
_UNICODE_SPACE = r"\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
# A line the fast path cannot take as one plain record: an odd number of quotes (a
# quoted field goes on past its line end) or nothing but white space (blank). RE2 (a
# DFA over the UTF-8 bytes, about 2 GB/s here) finds one in a whole piece at once.
_NOT_PLAIN_LINE = re2.compile(
    (
        r'(?m)^(?:[^"\n]*(?:"[^"\n]*"[^"\n]*)*"[^"\n]*'
        r"|[\t\x0b\x0c\r\x1c-\x1f " + _UNICODE_SPACE + r"]*)$"
    ).encode()
)


def _blank(record: bytes) -> bool:
    rest = record.strip(_ASCII_SPACE)
    return not rest or (not rest.isascii() and rest.decode().isspace())


@functools.lru_cache(maxsize=64)
def _lines_pattern(count: int) -> re.Pattern[bytes]:
    return re.compile(rb"(?:[^\n]*+\n){%d}" % count)


@dataclass(frozen=True)
class Records:
    """`count` whole CSV records, each with its line end, as one run of UTF-8 bytes.
    `ends`: where each record ends, or None when every line end ends one (plain)."""

    data: bytes
    count: int
    ends: tuple[int, ...] | None = None

    @classmethod
    def of(cls, records: Sequence[bytes]) -> Records:
        return cls(b"".join(records), len(records), tuple(itertools.accumulate(map(len, records))))

    def split(self, count: int) -> tuple[Records, Records]:
        """The first `count` records (0 < count <= self.count) and the rest."""
        if count == self.count:
            return self, NO_RECORDS
        if self.ends is None:
            match = _lines_pattern(count).match(self.data)
            assert match is not None, "a plain run has a line end per record"
            cut = match.end()
            return (
                Records(self.data[:cut], count),
                Records(self.data[cut:], self.count - count),
            )
        cut = self.ends[count - 1]
        return (
            Records(self.data[:cut], count, self.ends[:count]),
            Records(self.data[cut:], self.count - count, tuple(e - cut for e in self.ends[count:])),
        )


NO_RECORDS = Records(b"", 0)


class _RecordCutter:
    """Cuts byte pieces into whole records in one pass: each byte is looked at a bounded
    number of times and an unfinished record is kept as a list of parts, never
    re-copied, so time is linear in the input and memory is one piece plus one record
    (at most `limit` bytes: past it, a 400 naming the line where the record starts).
    The run of whole lines in a piece goes through as it is when RE2 finds none that
    is blank or leaves a quote open (the common case: no Python work per line)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []  # the unfinished record
        self.size = 0  # its size
        self.quoted = False  # inside a quoted field: an odd number of quotes so far
        self.line = 1  # the current physical line (1-based, header included)
        self.start = 1  # the line where the unfinished record starts

    def _grow(self, part: bytes) -> None:
        self.size += len(part)
        if self.size > self.limit:
            raise _record_too_long(self.start, self.limit)
        self.parts.append(part)

    def _line(self, line: bytes, records: list[bytes]) -> None:
        """Take one line (with its line end); a record it completes goes to `records`."""
        self.line += 1
        if line.count(b'"') % 2:
            self.quoted = not self.quoted
        if self.parts or self.quoted:
            self._grow(line)
            if self.quoted:
                return
            record = b"".join(self.parts)
            self.parts, self.size = [], 0
        else:
            if len(line) > self.limit:
                raise _record_too_long(self.line - 1, self.limit)
            record = line
        if not _blank(record):
            records.append(record)
        self.start = self.line

    def _lines(self, data: bytes, start: int, end: int, records: list[bytes]) -> None:
        for line in data[start:end].split(b"\n")[:-1]:
            self._line(line + b"\n", records)

    def cut(self, data: bytes) -> list[Records]:
        """The records `data` completes (blank ones dropped)."""
        runs: list[Records] = []
        last = data.rfind(b"\n") + 1  # no record ends after the last line end
        records: list[bytes] = []
        position = 0
        # A record begun in an earlier piece is finished line by line.
        while position < last and (self.parts or self.quoted):
            end = data.index(b"\n", position) + 1
            self._line(data[position:end], records)
            position = end
        if position < last:
            if last - position <= self.limit and not _NOT_PLAIN_LINE.search(
                data, position, last - 1
            ):
                if records:
                    runs.append(Records.of(records))
                    records = []
                count = data.count(b"\n", position, last)
                runs.append(Records(data[position:last], count))
                self.line += count
                self.start = self.line
            else:
                self._lines(data, position, last, records)
        if records:
            runs.append(Records.of(records))
        tail = data[last:]
        if tail:
            if tail.count(b'"') % 2:
                self.quoted = not self.quoted
            self._grow(tail)
        return runs

    def finish(self) -> list[Records]:
        """The last record, when the file does not end with a line end."""
        if self.quoted:
            raise ValidationError(
                "The CSV file is malformed",
                details=[
                    field_detail("file", "A quoted field is not closed at the end of the file")
                ],
            )
        last = b"".join(self.parts) + b"\n"
        return [] if _blank(last) else [Records(last, 1)]


def record_batches(
    pieces: Iterable[bytes], *, max_record_bytes: int = MAX_RECORD_BYTES
) -> Iterator[Records]:
    """Whole, non-blank CSV records (each with its line end), in runs as the bytes
    arrive. A record ends at a line end after an even number of quote characters: RFC
    4180 quoting always pairs quotes, so odd means a quoted field is still open. A record
    over `max_record_bytes` (line ends included) is a ValidationError naming its line."""
    cutter = _RecordCutter(max_record_bytes)
    for piece in pieces:
        yield from cutter.cut(piece)
    yield from cutter.finish()
