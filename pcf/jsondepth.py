"""JSON nesting limit for every JSON the API reads (`PCF_JSON_MAX_DEPTH`, default 64).

Python's json raises RecursionError (a 500 wherever nobody caught it) only past about
1,000 levels, and a document 100,000 levels deep is a few hundred KB. So the depth is
checked on the text before anything parses it, with C-speed steps only (a loop in
Python over 100 MB would take seconds): string contents are cut out (brackets in
them do not nest), every byte but a bracket is dropped, the innermost level is peeled
off while that shrinks the text a lot, and a regular expression that matches exactly
the bracket strings nested at most N deep checks the rest. Measured on these shared
2-core machines: a 48 MB batch in about 1 s, the worst case (64 MB of brackets nested
64 deep) in 2-4 s, where json.loads of the same bodies takes longer and GBs."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.utils.deprecation import MiddlewareMixin

from pcf.auth import request_client
from pcf.errors import error_response
from pcf.exceptions import PayloadTooLarge, PcfError, Unauthenticated, ValidationError, field_detail

_DROP_ALL_BUT_MARKS = bytes(b for b in range(256) if b not in b'"[]{}')
_SQUARE = bytes.maketrans(b"{}", b"[]")


def max_depth() -> int:
    return int(settings.PCF_JSON_MAX_DEPTH)


@cache
def _nested_at_most(depth: int) -> re.Pattern[bytes]:
    """Matches the balanced bracket strings nested at most `depth` deep (possessive:
    one pass, no backtracking)."""
    pattern = b""
    for _ in range(depth):
        pattern = rb"(?:\[" + pattern + rb"\])*+"
    return re.compile(pattern)


def _brackets(data: bytes) -> bytes:
    """The brackets of the JSON text outside strings, `{}` written as `[]`."""
    if b"\\" in data:
        # Escaped backslashes first, then escaped quotes: the quotes left delimit strings.
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Adjacent quotes are an empty string, or one string's end and the next one's start
    # with nothing between them: dropping them changes no bracket outside strings.
    marks = data.translate(None, _DROP_ALL_BUT_MARKS).replace(b'""', b"")
    if b'"' in marks:
        marks = b"".join(marks.split(b'"')[::2])
    return marks.translate(_SQUARE)


def nests_deeper(text: bytes | str, limit: int) -> bool:
    """True when the JSON `text` nests deeper than `limit` (a flat object is 1). Text
    that is not JSON may get either answer; the parser refuses it anyway."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # too few brackets to nest that deep
    brackets = _brackets(data)
    # Each replace drops every innermost pair: one level less everywhere.
    while limit > 0 and b"[]" in brackets:
        shorter = brackets.replace(b"[]", b"")
        limit -= 1
        shrunk_a_lot = len(shorter) * 4 < len(brackets) * 3
        brackets = shorter
        if not shrunk_a_lot:
            break
    if b"[]" not in brackets:
        return False  # nothing nested is left (or unbalanced: the parser's 400)
    if limit > 0 and _nested_at_most(limit).fullmatch(brackets):
        return False
    return brackets.count(b"[") == brackets.count(b"]")


def check_depth(text: bytes | str, *, field: str = "body") -> None:
    """Raise ValidationError naming `field` when `text` nests deeper than the limit."""
    limit = max_depth()
    if nests_deeper(text, limit):
        raise ValidationError(
            f"JSON may be nested at most {limit} levels deep",
            details=[field_detail(field, f"Nested deeper than {limit} levels")],
        )


def loads(text: str | bytes, *, field: str) -> Any:
    """json.loads with the depth limit (ValidationError on `field`); other JSON errors
    are the caller's (json.JSONDecodeError, a ValueError)."""
    check_depth(text, field=field)
    return json.loads(text)


def is_json_media(content_type: str) -> bool:
    # As pcf.idempotency reads bodies: any media type naming JSON.
    return "json" in content_type.split(";")[0].lower()


GRAPHQL_PATH = "/v1/graphql"


def _refusal(request: HttpRequest, error: PcfError) -> HttpResponseBase:
    if request.path.rstrip("/") != GRAPHQL_PATH:
        return error_response(error)
    # GraphQL-over-HTTP's shape for a request refused before any operation ran.
    extensions = {"code": error.code, "details": error.details}
    body = {"data": None, "errors": [{"message": error.message, "extensions": extensions}]}
    return JsonResponse(body, status=error.http_status)


class JsonDepthMiddleware(MiddlewareMixin):
    """Refuses a too-deep JSON body on /v1 (400; in GraphQL's shape on /v1/graphql)
    before any view or idempotency check parses it. Unauthenticated requests are left
    to the view's 401."""

    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        if not request.path.startswith("/v1/") or request.method in ("GET", "HEAD"):
            return None
        if not is_json_media(request.META.get("CONTENT_TYPE", "")):
            return None
        try:
            request_client(request)
        except Unauthenticated:
            return None
        try:
            check_depth(request.body)
        except RequestDataTooBig:
            return _refusal(request, PayloadTooLarge("Request body too large"))
        except PcfError as error:
            return _refusal(request, error)
        return None
