"""Bytes in, CSV records out, in bounded memory.

An upload arrives as byte pieces. These generators inflate gzip (detected by its magic
bytes, so a `.gz` file part works whatever its name), enforce the size cap while
streaming, decode UTF-8 (with or without BOM) incrementally, and cut the text into
whole CSV records: a record ends at a line end outside quotes, so a quoted field may
hold commas, doubled quotes and newlines. Blank lines are dropped: they are not rows.
Nothing here ever holds more than one piece plus one unfinished record."""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Iterable, Iterator

from pcf.exceptions import PayloadTooLarge, ValidationError

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
            raise ValidationError(
                details=[{"field": "file", "message": "The file is not valid gzip data"}]
            ) from None
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
        raise ValidationError(
            details=[{"field": "file", "message": "The file is truncated gzip data"}]
        )


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
                details=[{"field": "file", "message": f"NUL byte at byte {offset + nul}"}],
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
        details=[{"field": "file", "message": f"Invalid UTF-8 at byte {position}"}],
    )


def record_batches(texts: Iterable[str]) -> Iterator[list[str]]:
    """Whole, non-blank CSV records (each with its line end), in batches as the text
    arrives. A record ends at a newline after an even number of quote characters: RFC 4180
    quoting always pairs quotes, so odd means a quoted field is still open."""
    carry = ""  # the unfinished line at the end of the last piece
    open_record: list[str] = []  # lines of a record whose quoted field spans lines
    open_quotes = 0
    for text in texts:
        data = carry + text if carry else text
        end = data.rfind("\n")
        if end < 0:
            carry = data
            continue
        carry = data[end + 1 :]
        batch: list[str] = []
        for line in data[: end + 1].splitlines(keepends=True):
            # splitlines also cuts at \r, \x0b, \u2028...; glue those back to one line.
            if not line.endswith("\n"):
                open_record.append(line)
                open_quotes += line.count('"')
                continue
            if open_record:
                open_record.append(line)
                open_quotes += line.count('"')
                if open_quotes % 2:
                    continue
                line = "".join(open_record)
                open_record = []
                open_quotes = 0
            else:
                quotes = line.count('"')
                if quotes % 2:
                    open_record.append(line)
                    open_quotes = quotes
                    continue
            if line.strip():
                batch.append(line)
        if batch:
            yield batch
    last = "".join(open_record) + carry
    if last.count('"') % 2:
        raise ValidationError(
            "The CSV file is malformed",
            details=[
                {"field": "file", "message": "A quoted field is not closed at the end of the file"}
            ],
        )
    if last.strip():
        yield [last if last.endswith("\n") else last + "\n"]
