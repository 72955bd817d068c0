"""`Idempotency-Key` for every POST of the contract (Stripe's semantics).

The first request with a key claims it (one INSERT .. ON CONFLICT DO NOTHING, so two
concurrent requests can never both claim it), runs, and stores its answer. A repeat
within 24 h with the same method, path and body content gets that answer back without
running again; a concurrent repeat waits for the first to finish. The same key with
another request is 422 `IDEMPOTENCY_KEY_REUSED`, before anything else is checked.

Bodies are compared by content: JSON as parsed JSON (key order and spacing do not
matter), multipart with its boundary neutralised, anything else byte for byte. Bodies
are hashed while streaming and never held in memory beyond what Django does anyway."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any, BinaryIO, cast

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone

from pcf.auth import request_client
from pcf.errors import error_response
from pcf.exceptions import (
    Conflict,
    IdempotencyKeyReused,
    PayloadTooLarge,
    PcfError,
    ResponseTooLarge,
    Unauthenticated,
    field_error,
)
from pcf.middleware import DualModeMiddleware
from pcf.models import ApiClient, IdempotencyRecord

logger = logging.getLogger("pcf.idempotency")

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 255
# The POST endpoints of the contract that honour the header.
COVERED_PATH = re.compile(
    r"^/v1/(batch|resources|bulk/resources|import/resources|"
    r"bulk-update/resources|bulk-delete/resources)/?$"
)
READ_SIZE = 256 * 1024
SPOOL_IN_MEMORY = 2 * 1024 * 1024
# How long a duplicate waits for the first request before answering 409.
WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05
# A claim this old without an answer belongs to a crashed process: take it over.
# Longer than any synchronous request may run (the web server's timeout is 120 s).
ABANDONED_AFTER = timedelta(minutes=10)
REPLAYED_HEADER = "Idempotent-Replayed"


def is_covered(request: HttpRequest) -> bool:
    return request.method == "POST" and bool(COVERED_PATH.match(request.path))


# --- fingerprints ---------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def request_fingerprint(*, method: str, path: str, body_digest: str) -> str:
    return hashlib.sha256(f"{method}\n{path}\n{body_digest}".encode()).hexdigest()


def hash_replacing(chunks: Iterator[bytes], token: bytes) -> str:
    """SHA-256 of the concatenated chunks with every `token` replaced by a constant,
    also where a token straddles two chunks (a tail shorter than the token is held)."""
    digest = hashlib.sha256()
    keep = max(len(token) - 1, 0)
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *complete, last = buffer.split(token) if token else [buffer]
        for part in complete:
            digest.update(part)
            digest.update(b"\x00--boundary--\x00")
        if len(last) > keep:
            digest.update(last[: len(last) - keep])
            last = last[len(last) - keep :]
        buffer = last
    digest.update(buffer)
    return digest.hexdigest()


def _multipart_boundary(content_type: str) -> bytes:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    return ("--" + match.group(1)).encode() if match else b""


def _stream_chunks(request: HttpRequest) -> Iterator[bytes]:
    """Yield the raw body, then leave the request readable from the start again.

    A seekable stream (ASGI's spooled body, an inflated gzip body) is rewound; any
    other (WSGI input) is copied into a spooled file as it is read."""
    stream: Any = request._stream
    if callable(getattr(stream, "seekable", None)) and stream.seekable():
        start = stream.tell()
        while chunk := stream.read(READ_SIZE):
            yield chunk
        stream.seek(start)
        return
    copy: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    while chunk := stream.read(READ_SIZE):
        copy.write(chunk)
        yield chunk
    copy.seek(0)
    request._stream = cast(BinaryIO, copy)
    request._read_started = False  # type: ignore[attr-defined]


def body_digest(request: HttpRequest) -> str:
    content_type = request.META.get("CONTENT_TYPE", "").lower()
    if "json" in content_type.split(";")[0]:
        try:
            raw = request.body
        except RequestDataTooBig:
            raise PayloadTooLarge("Request body too large") from None
        try:
            return hashlib.sha256(canonical_json(json.loads(raw))).hexdigest()
        except (ValueError, UnicodeDecodeError, RecursionError):
            # Not JSON the view will accept: compared byte for byte.
            return hashlib.sha256(raw).hexdigest()
    token = _multipart_boundary(request.META.get("CONTENT_TYPE", ""))
    if content_type.startswith("multipart/") and token:
        return hash_replacing(_stream_chunks(request), token)
    return hash_replacing(_stream_chunks(request), b"")


# --- claims ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """Either ours to run (`record_id`) or a stored answer to replay (`record`)."""

    record_id: int | None = None
    record: IdempotencyRecord | None = None


_CLAIM_SQL = f"""
INSERT INTO {IdempotencyRecord._meta.db_table}
    (tenant_id, key, fingerprint, status_code, content_type, body, created_at)
VALUES (%s, %s, %s, NULL, '', ''::bytea, %s)
ON CONFLICT (tenant_id, key) DO NOTHING
RETURNING id
"""  # noqa: S608 - the table name is ours, values are parameters


def claim_insert(*, tenant: ApiClient, key: str, fingerprint: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [tenant.pk, key, fingerprint, timezone.now()])
        row = cursor.fetchone()
    return int(row[0]) if row else None


def idempotency_claim(
    *, tenant: ApiClient, key: str, fingerprint: str, wait_seconds: float = WAIT_SECONDS
) -> Claim:
    """Claim `key` for this request, or return the finished first answer to replay.

    Raises IdempotencyKeyReused for another request under the key, Conflict when the
    first request is still running after `wait_seconds`."""
    give_up = time.monotonic() + wait_seconds
    ttl = timedelta(seconds=int(settings.PCF_IDEMPOTENCY_TTL_SECONDS))
    while True:
        record_id = claim_insert(tenant=tenant, key=key, fingerprint=fingerprint)
        if record_id is not None:
            return Claim(record_id=record_id)
        record = IdempotencyRecord.objects.filter(tenant=tenant, key=key).first()
        if record is None:
            continue  # released meanwhile: claim again
        now = timezone.now()
        if record.created_at < now - ttl:
            # Expired: the key is free again.
            IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if record.is_finished:
            return Claim(record=record)
        if record.created_at < now - ABANDONED_AFTER:
            taken = IdempotencyRecord.objects.filter(
                pk=record.pk, created_at=record.created_at, status_code__isnull=True
            ).update(created_at=now)
            if taken:
                return Claim(record_id=record.pk)
            continue
        if time.monotonic() > give_up:
            raise Conflict("A request with this Idempotency-Key is still in progress; retry later")
        time.sleep(POLL_SECONDS)


def idempotency_store(*, record_id: int, status_code: int, content_type: str, body: bytes) -> None:
    IdempotencyRecord.objects.filter(pk=record_id).update(
        status_code=status_code, content_type=content_type[:100], body=body
    )


def idempotency_release(*, record_id: int) -> None:
    """Forget a claim whose request produced no answer worth replaying (5xx, crash)."""
    IdempotencyRecord.objects.filter(pk=record_id, status_code__isnull=True).delete()


@dataclass
class _Progress:
    committed: bool = False


# Set for the duration of an idempotent request; services say when work has committed.
_progress: ContextVar[_Progress | None] = ContextVar("pcf_idempotent_progress", default=None)


def note_committed() -> None:
    """Record that part of the current request's work is committed (a no-op outside an
    idempotent request). From then on its claim is kept whatever the answer: a retry
    must replay, never apply that work twice."""
    progress = _progress.get()
    if progress is not None:
        progress.committed = True


def _internal_answer() -> HttpResponse:
    return HttpResponse(
        json.dumps(PcfError().as_dict(), separators=(",", ":")),
        status=500,
        content_type="application/json",
    )


def _within_budget(response: HttpResponseBase) -> HttpResponseBase:
    """What the store keeps of `response`: itself, or, past PCF_RESPONSE_MAX_BYTES, a
    small 413 saying so (the claim stays: the request ran, a retry must not run it)."""
    size = len(response.content)  # type: ignore[attr-defined]
    limit = int(settings.PCF_RESPONSE_MAX_BYTES)
    if size <= limit:
        return response
    error = ResponseTooLarge(
        f"The first answer to this request ({size} bytes) was larger than the "
        f"{limit} bytes an answer may be kept; it ran, and its answer is not replayed"
    )
    return error_response(error)


def replay_response(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        bytes(record.body),
        status=record.status_code or 200,
        content_type=record.content_type or None,
    )
    response[REPLAYED_HEADER] = "true"
    return response


def _worth_storing(response: HttpResponseBase) -> bool:
    # Server errors and throttling say nothing about the request: let a retry run.
    return (
        not response.streaming
        and response.status_code < 500
        and response.status_code not in (401, 429)
    )


def _read_key(request: HttpRequest) -> str | None:
    raw: str | None = request.META.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    # Control characters (NUL above all: PostgreSQL text cannot hold it) are refused.
    if not key or len(key) > MAX_KEY_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise field_error(
            "Idempotency-Key", f"Must be 1-{MAX_KEY_LENGTH} characters, no control characters"
        )
    return key


def handle_idempotent(
    request: HttpRequest, get_response: Callable[[HttpRequest], HttpResponseBase]
) -> HttpResponseBase:
    """Run `get_response` at most once per (tenant, key); see the module doc."""
    try:
        key = _read_key(request)
        if key is None:
            return get_response(request)
        try:
            tenant = request_client(request)
        except Unauthenticated:
            return get_response(request)  # the view answers 401 in its own way
        fingerprint = request_fingerprint(
            method=request.method or "POST",
            path=request.get_full_path(),
            body_digest=body_digest(request),
        )
        claim = idempotency_claim(tenant=tenant, key=key, fingerprint=fingerprint)
    except PcfError as error:
        return error_response(error)
    if claim.record is not None:
        return replay_response(claim.record)
    assert claim.record_id is not None
    progress = _Progress()
    token = _progress.set(progress)
    try:
        response = get_response(request)
    except BaseException:
        if not progress.committed:
            idempotency_release(record_id=claim.record_id)
            raise
        logger.exception("idempotent request failed after committing work")
        response = _internal_answer()
    finally:
        _progress.reset(token)
    if _worth_storing(response) or (progress.committed and not response.streaming):
        stored = _within_budget(response)
        idempotency_store(
            record_id=claim.record_id,
            status_code=stored.status_code,
            content_type=stored.get("Content-Type", ""),
            body=stored.content,  # type: ignore[attr-defined]
        )
    else:
        idempotency_release(record_id=claim.record_id)
    return response


class IdempotencyMiddleware(DualModeMiddleware):
    """Applies `handle_idempotent` to the contract's POST endpoints."""

    def handle(self, request: HttpRequest) -> HttpResponseBase:
        if not is_covered(request):
            response: HttpResponseBase = self.get_response(request)
            return response
        return handle_idempotent(request, self.get_response)

    async def ahandle(self, request: HttpRequest) -> HttpResponseBase:
        if not is_covered(request) or HEADER not in request.META:
            response: HttpResponseBase = await self.get_response(request)
            return response
        # Database work and waiting are blocking: run them in a worker thread, calling
        # back into the async chain for the view itself.
        inner = async_to_sync(self.get_response)
        result: HttpResponseBase = await sync_to_async(handle_idempotent)(request, inner)
        return result
