"""What every request shares, sync or async: headers, JSON bodies (gzipped when
large), idempotency keys, and turning a non-2xx answer into a typed exception."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import httpx

from pcf_client import __version__
from pcf_client.errors import ApiError, error_from_body

# Below this, gzip costs more than it saves on a local network.
GZIP_MIN_BYTES = 1024
# Level 5: most of level 9's ratio on JSON at a fraction of its CPU.
GZIP_LEVEL = 5


def default_headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "User-Agent": f"pcf-client/{__version__} httpx/{httpx.__version__}",
        "Accept": "application/json",
    }


def encode_json(payload: Any) -> tuple[bytes, dict[str, str]]:
    """The body and its headers: compact JSON, gzipped past GZIP_MIN_BYTES."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if len(body) >= GZIP_MIN_BYTES:
        # mtime=0: the same payload gives the same bytes, whatever the clock says.
        body = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return body, headers


def new_idempotency_key() -> str:
    return f"pcf-{uuid.uuid4().hex}"


def api_error(response: httpx.Response) -> ApiError:
    """The typed exception for a non-2xx answer whose body has been read."""
    return error_from_body(
        response.status_code,
        response.content,
        retry_after=response.headers.get("Retry-After"),
        reason=response.reason_phrase,
    )


def json_object(response: httpx.Response) -> dict[str, Any]:
    data = response.json()
    if not isinstance(data, dict):
        raise ApiError(response.status_code, "BAD_RESPONSE", "expected a JSON object")
    return data
