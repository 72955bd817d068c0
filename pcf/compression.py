"""HTTP compression for the whole API.

Requests: a `Content-Encoding: gzip` body is inflated only once the request's bearer
token is authenticated (no valid token: 401 with nothing inflated), in bounded steps
(into a spooled temporary file, or, for imports, as the import reads it), so a gzip
bomb is refused (413) after at most the cap's worth of work and never held in memory.
Any other encoding is a 415; compressed bodies are for the API (/v1) only.

Responses: Django's GZipMiddleware, except for streaming responses (the SSE progress
stream must reach the client event by event, and gzip would buffer it)."""

from __future__ import annotations

import io
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


class GunzipReader(io.RawIOBase):
    """A gzip stream, inflated as it is read, at most INFLATE_STEP per step.

    Raises PayloadTooLarge as soon as the output passes `limit`, ValidationError for
    data that is not gzip or is truncated. Concatenated gzip members (RFC 1952) are
    all inflated."""

    def __init__(self, source: IO[bytes], *, limit: int) -> None:
        super().__init__()
        self._source = source
        self._limit = limit
        self.total = 0
        self._inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self._fed = False  # has the current gzip member received any input?
        self._pending = b""
        self._ready = b""
        self._finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._ready:
            if not self._fill():
                return 0
        size = min(len(buffer), len(self._ready))
        buffer[:size] = self._ready[:size]
        self._ready = self._ready[size:]
        return size

    def _emit(self, data: bytes) -> None:
        self.total += len(data)
        if self.total > self._limit:
            raise PayloadTooLarge(f"Decompressed request body exceeds {self._limit} bytes")
        self._ready = data

    def _fill(self) -> bool:
        """Inflate one step into `_ready`; False once the stream has ended."""
        if self._finished:
            return False
        if not self._pending:
            self._pending = self._source.read(READ_SIZE)
            if not self._pending:
                self._finished = True
                if self._fed:
                    rest = self._inflater.flush()
                    if not self._inflater.eof:
                        raise ValidationError("Request body is truncated gzip data")
                    self._emit(rest)
                return bool(self._ready)
        self._fed = True
        try:
            data = self._inflater.decompress(self._pending, INFLATE_STEP)
        except zlib.error:
            raise ValidationError("Request body is not valid gzip data") from None
        if self._inflater.eof:
            # Another member may follow (RFC 1952 allows concatenation).
            self._pending = self._inflater.unused_data
            self._inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            self._fed = False
        else:
            self._pending = self._inflater.unconsumed_tail
        self._emit(data)
        return True


def inflate_gzip(source: IO[bytes], *, limit: int) -> tuple[IO[bytes], int]:
    """Inflate a gzip stream into a rewound spooled file; return it and its size
    (raises as GunzipReader does)."""
    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    reader = GunzipReader(source, limit=limit)
    try:
        while chunk := reader.read(INFLATE_STEP):
            out.write(chunk)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, reader.total


def decompress_request(request: HttpRequest) -> None:
    """Replace a gzip request body by its inflated content (in place), or raise:
    Unauthenticated before anything is inflated, then the errors of GunzipReader.
    An import's body is inflated as the import reads it (it stops reading at the
    first bad record); any other body is inflated whole first, up to its cap."""
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
    if request.path.startswith("/v1/import/"):
        # CSV imports stream big files (imports/upload_stream.py), with their own larger cap.
        reader = GunzipReader(source, limit=int(settings.PCF_IMPORT_MAX_BYTES))
        request._stream = cast(BinaryIO, io.BufferedReader(reader, buffer_size=READ_SIZE))
        request.META.pop("CONTENT_LENGTH", None)  # unknown until read
    else:
        inflated, size = inflate_gzip(source, limit=int(settings.PCF_MAX_DECOMPRESSED_BYTES))
        request._stream = cast(BinaryIO, inflated)
        request.META["CONTENT_LENGTH"] = str(size)
    request._read_started = False  # type: ignore[attr-defined]
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
