"""Reading a CSV upload as a stream: multipart (`file` + `options`) or a raw text/csv body.

Django's MultiPartParser hands files to upload handlers but gives form fields only at
the end, and the cookbook sends `file` before `options`. So this walks the parts with
Django's own streaming multipart Parser: when `options` is known before the file (form
field first, or options in the query string) the file streams straight into the
import; when the file comes first, it is spooled to a temporary file (bounded memory)
and imported once `options` has been read."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest
from django.http.multipartparser import FIELD, FILE, ChunkIter, LazyStream, Parser
from django.utils.http import parse_header_parameters

from pcf.exceptions import PayloadTooLarge, ValidationError, field_error

T = TypeVar("T")
READ_SIZE = 256 * 1024
SPOOL_IN_MEMORY = 1024 * 1024
MAX_OPTIONS_BYTES = 1024 * 1024
# Multipart framing around the file: the body may exceed the file cap by this much.
FRAMING_SLACK = 1024 * 1024

Consume = Callable[[Any, Iterator[bytes]], T]


def check_length(request: HttpRequest) -> None:
    """Refuse a body whose declared length already passes the cap, before reading it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    cap = int(settings.PCF_IMPORT_MAX_BYTES)
    if length > cap + FRAMING_SLACK:
        raise PayloadTooLarge(f"The upload is larger than {cap} bytes")


def raw_pieces(request: HttpRequest) -> Iterator[bytes]:
    return iter(ChunkIter(request, READ_SIZE))


def _spool(pieces: Iterator[bytes]) -> Any:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    cap = int(settings.PCF_IMPORT_MAX_BYTES)
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > cap:
            spool.close()
            raise PayloadTooLarge(f"The file is larger than {cap} bytes")
        spool.write(piece)
    spool.seek(0)
    return spool


def read_multipart(request: HttpRequest, consume: Consume[T], *, query_options: Any) -> T:
    """Find `options` and `file` among the parts and call `consume(options, pieces)`
    once with the file's byte pieces, as early as the part order allows."""
    _, params = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
    boundary = params.get("boundary", "")
    if not boundary or len(boundary) > 200:
        raise ValidationError("multipart/form-data needs a boundary")
    stream = LazyStream(ChunkIter(request, READ_SIZE))
    options: Any = query_options
    form_options = False
    spool: Any = None
    results: list[T] = []  # the one consume() result, once the file part was read
    for item_type, meta, part in Parser(stream, boundary.encode("ascii")):
        if item_type not in (FIELD, FILE):
            continue
        try:
            raw_name = meta["content-disposition"][1]["name"]
            name = (raw_name.decode() if isinstance(raw_name, bytes) else raw_name).strip()
        except (KeyError, IndexError, AttributeError, UnicodeDecodeError):
            continue
        if name == "options":
            if query_options is not None:
                raise field_error(
                    "options", "Give options in the form or the query string, not both"
                )
            raw = part.read(MAX_OPTIONS_BYTES + 1)
            if len(raw) > MAX_OPTIONS_BYTES:
                raise field_error("options", "Too long")
            options = raw.decode("utf-8", errors="replace")
            form_options = True
        elif name == "file" and not results and spool is None:
            if form_options or query_options is not None:
                results.append(consume(options, iter(part)))
            else:
                spool = _spool(iter(part))
        else:
            # Unknown parts are read past, never kept.
            for _ in part:
                pass
    if not results:
        if spool is None:
            raise field_error("file", "A CSV file is required")
        with spool:
            results.append(consume(options, iter(lambda: spool.read(READ_SIZE), b"")))
    return results[0]
