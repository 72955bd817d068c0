"""Bytes in, CSV records out, in bounded memory.

An upload arrives as byte pieces. These generators inflate gzip (detected by its magic
bytes, so a `.gz` file part works whatever its name), enforce the size cap while
streaming, decode UTF-8 (with or without BOM) incrementally, and cut the text into
whole CSV records: a record ends at a line end outside quotes, so a quoted field may
hold commas, doubled quotes and newlines. Blank lines are dropped: they are not rows.
Nothing here ever holds more than one piece plus one unfinished record, and one
record is capped (MAX_RECORD_BYTES), so a line without end, or everything after a
quote that never closes, costs at most the cap, in time linear in the input."""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Iterable, Iterator

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


def decoded_text(pieces: Iterable[bytes]) -> Iterator[str]:
    """UTF-8 text of the byte pieces; a leading BOM is dropped. Undecodable input, or a
    NUL byte, is a 400 naming the byte offset, so the user can find it."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    offset = 0
    for piece in pieces:
        try:
            text = decoder.decode(piece)
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
        if text:
            yield text
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise _undecodable(offset + exc.start) from None
    if tail:
        yield tail


def _undecodable(position: int) -> ValidationError:
    return ValidationError(
        "The file is not UTF-8 text",
        details=[field_detail("file", f"Invalid UTF-8 at byte {position}")],
    )


# One CSV record (a row with its quoted newlines) may be at most this many UTF-8 bytes
# by default (PCF_CSV_MAX_RECORD_BYTES): a longer one is no row anyone means to import.
MAX_RECORD_BYTES = 1024 * 1024


def _utf8_size(text: str) -> int:
    # isascii() is O(1) in CPython: only non-ASCII text pays for encoding.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _record_too_long(line: int, limit: int) -> ValidationError:
    return ValidationError(
        "The CSV file has a record that is too long",
        details=[
            field_detail("file", f"The record starting at line {line} is longer than {limit} bytes")
        ],
    )


class _RecordCutter:
    """Cuts text pieces into whole records in one pass: each character is looked at a
    bounded number of times and an unfinished record is kept as a list of parts, never
    re-copied, so time is linear in the input and memory is one piece plus one record
    (at most `limit` bytes: past it, a 400 naming the line where the record starts)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []  # the unfinished record
        self.size = 0  # its UTF-8 size, counted once the record spans parts
        self.quoted = False  # inside a quoted field: an odd number of quotes so far
        self.line = 1  # the current physical line (1-based, header included)
        self.start = 1  # the line where the unfinished record starts

    def _grow(self, part: str) -> None:
        self.size += _utf8_size(part)
        if self.size > self.limit:
            raise _record_too_long(self.start, self.limit)
        self.parts.append(part)

    def cut(self, text: str) -> list[str]:
        """The records `text` completes (blank ones dropped), each with its line end."""
        records: list[str] = []
        lines = text.split("\n")
        tail = lines.pop()  # the text after the last line end: no record ends in it
        limit = self.limit
        for segment in lines:
            self.line += 1
            if segment.count('"') % 2:
                self.quoted = not self.quoted
            if self.parts or self.quoted:
                self._grow(segment + "\n")
                if self.quoted:
                    continue
                record = "".join(self.parts)
                self.parts, self.size = [], 0
            else:
                # The common case: a whole record on one line of this piece. Only a
                # line that might pass the limit (4 bytes a character at most) is sized.
                if len(segment) * 4 >= limit and _utf8_size(segment) >= limit:
                    raise _record_too_long(self.line - 1, limit)
                record = segment + "\n"
            if not record.isspace():
                records.append(record)
            self.start = self.line
        if tail:
            if tail.count('"') % 2:
                self.quoted = not self.quoted
            self._grow(tail)
        return records

    def finish(self) -> list[str]:
        """The last record, when the file does not end with a line end."""
        if self.quoted:
            raise ValidationError(
                "The CSV file is malformed",
                details=[
                    field_detail("file", "A quoted field is not closed at the end of the file")
                ],
            )
        last = "".join(self.parts)
        return [last + "\n"] if last.strip() else []


def record_batches(
    texts: Iterable[str], *, max_record_bytes: int = MAX_RECORD_BYTES
) -> Iterator[list[str]]:
    """Whole, non-blank CSV records (each with its line end), in batches as the text
    arrives. A record ends at a newline after an even number of quote characters: RFC 4180
    quoting always pairs quotes, so odd means a quoted field is still open. A record over
    `max_record_bytes` (UTF-8, line ends included) is a ValidationError naming its line."""
    cutter = _RecordCutter(max_record_bytes)
    for text in texts:
        batch = cutter.cut(text)
        if batch:
            yield batch
    last = cutter.finish()
    if last:
        yield last
