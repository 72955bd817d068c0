"""HTTP compression for the whole API.

Requests: a `Content-Encoding: gzip` body is inflated only once the request's bearer
token is authenticated (no valid token: 401 with nothing inflated), in bounded steps
into a spooled temporary file, so a gzip bomb is refused (413) after at most the cap's
worth of work and never held in memory. Any other encoding is a 415; compressed bodies
are for the API (/v1) only.

Responses: Django's GZipMiddleware, except for streaming responses (the SSE progress
stream must reach the client event by event, and gzip would buffer it)."""

from __future__ import annotations

import tempfile
import zlib
from typing import IO, Any, BinaryIO, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware
from django.utils.deprecation import MiddlewareMixin

from pcf.auth import request_client
from pcf.errors import error_response
from pcf.exceptions import PayloadTooLarge, PcfError, UnsupportedMediaType, ValidationError

READ_SIZE = 64 * 1024  # compressed bytes read at a time
# Inflate at most this much per step: memory stays bounded whatever the ratio.
INFLATE_STEP = 256 * 1024
SPOOL_IN_MEMORY = 2 * 1024 * 1024  # bigger bodies spill to a temporary file

IDENTITY = {"", "identity"}
GZIP = {"gzip", "x-gzip"}


def inflate_gzip(source: IO[bytes], *, limit: int) -> tuple[IO[bytes], int]:
    """Inflate a gzip stream into a rewound spooled file; return it and its size.

    Raises PayloadTooLarge as soon as the output passes `limit`, ValidationError for
    data that is not gzip. Concatenated gzip members (RFC 1952) are all inflated."""
    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    total = 0
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    fed = False  # has the current gzip member received any input?
    pending = b""
    try:
        while True:
            if not pending:
                pending = source.read(READ_SIZE)
                if not pending:
                    break
            fed = True
            try:
                data = inflater.decompress(pending, INFLATE_STEP)
            except zlib.error:
                raise ValidationError("Request body is not valid gzip data") from None
            total += len(data)
            if total > limit:
                raise PayloadTooLarge(f"Decompressed request body exceeds {limit} bytes")
            out.write(data)
            if inflater.eof:
                # Another member may follow (RFC 1952 allows concatenation).
                pending = inflater.unused_data
                inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                fed = False
            else:
                pending = inflater.unconsumed_tail
        if fed:
            rest = inflater.flush()
            total += len(rest)
            if not inflater.eof:
                raise ValidationError("Request body is truncated gzip data")
            if total > limit:
                raise PayloadTooLarge(f"Decompressed request body exceeds {limit} bytes")
            out.write(rest)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, total


def decompress_request(request: HttpRequest) -> None:
    """Replace a gzip request body by its inflated content (in place), or raise:
    Unauthenticated before anything is inflated, then the errors of inflate_gzip."""
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in IDENTITY:
        return
    if not request.path.startswith("/v1/"):
        raise UnsupportedMediaType("Compressed request bodies are accepted on /v1 only")
    # Inflating costs up to the cap in CPU and disk: only for a known client.
    request_client(request)
    if encoding not in GZIP:
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported; use gzip")
    source: Any = request._stream
    # CSV imports stream big files (imports/upload.py); they have their own, larger cap.
    cap = (
        "PCF_IMPORT_MAX_BYTES"
        if request.path.startswith("/v1/import/")
        else "PCF_MAX_DECOMPRESSED_BYTES"
    )
    inflated, size = inflate_gzip(source, limit=int(getattr(settings, cap)))
    request._stream = cast(BinaryIO, inflated)
    request._read_started = False  # type: ignore[attr-defined]
    request.META["CONTENT_LENGTH"] = str(size)
    request.META.pop("HTTP_CONTENT_ENCODING", None)
    request.META["PCF_DECOMPRESSED"] = True


class RequestDecompressionMiddleware(MiddlewareMixin):
    """Inflates gzip request bodies before anything reads them (see module doc).

    Under ASGI, MiddlewareMixin runs this in a worker thread: inflating up to the cap
    never blocks the event loop."""

    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        try:
            decompress_request(request)
        except PcfError as error:
            return error_response(error)
        return None


class ResponseGZipMiddleware(GZipMiddleware):
    """Django's gzip for ordinary responses; streaming ones (SSE) pass untouched."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        content_type = response.get("Content-Type", "")
        if response.streaming or content_type.startswith("text/event-stream"):
            return response
        result: HttpResponseBase = super().process_response(request, response)
        return result
