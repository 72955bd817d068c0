"""Which paths a batch operation may target: `/resources` and `/resources/{id}` only.

A path is never fetched: it is parsed into a route here and dispatched to the
resource services, so nothing else (a nested batch, a bulk or import endpoint, another
host) can be reached whatever the string says."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from pcf.exceptions import MethodNotAllowed, field_error
from resources.batch.references import PLACEHOLDER

MAX_PATH_LENGTH = 2048
# (method, has id) pairs the REST API answers; others are 405 there and here.
ALLOWED = {
    ("GET", False),
    ("POST", False),
    ("GET", True),
    ("PATCH", True),
    ("DELETE", True),
}


@dataclass(frozen=True)
class Route:
    resource_id: str | None
    query: dict[str, str] = field(default_factory=dict)


def _strip_version(path: str) -> str:
    if path == "/v1" or path.startswith(("/v1/", "/v1?")):
        return path[3:] or "/"
    return path


def check_route(method: str, path: str, *, templated: bool = False) -> Route:
    """Parse `path` for `method`; raise VALIDATION_ERROR (or 405 like REST) if not allowed.

    With `templated`, references (`{op1.body.data.id}`) stand for one path segment."""
    if templated:
        path = PLACEHOLDER.sub("ref", path)
    if len(path) > MAX_PATH_LENGTH:
        raise field_error("path", f"path is longer than {MAX_PATH_LENGTH} characters")
    if "://" in path or path.startswith("//") or "\\" in path:
        raise field_error("path", "Absolute URLs are not allowed; use a path such as /resources")
    if not path.startswith("/"):
        raise field_error("path", "path must start with '/' (relative to /v1)")
    if "#" in path:
        raise field_error("path", "path must not contain a fragment")
    route, _, query_string = _strip_version(path).partition("?")
    decoded = unquote(route)
    if ".." in decoded:
        raise field_error("path", "path must not contain '..'")
    if "//" in route:
        raise field_error("path", "path must not contain empty segments")
    segments = route.strip("/").split("/")
    if segments[0] != "resources" or len(segments) > 2:
        target = "/" + "/".join(segments)
        if segments[0] == "batch":
            raise field_error("path", "A batch cannot contain another batch")
        if segments[0] in {"bulk", "import", "bulk-update", "bulk-delete"}:
            raise field_error(
                "path", f"{target} cannot be called from a batch; only /resources paths"
            )
        raise field_error("path", f"{target} is not allowed; only /resources and /resources/{{id}}")
    resource_id = unquote(segments[1]) if len(segments) == 2 else None
    if resource_id is not None and ("/" in resource_id or resource_id in {"", ".", ".."}):
        raise field_error("path", "path must not contain '..' or encoded '/'")
    if (method, resource_id is not None) not in ALLOWED:
        target = "/resources/{id}" if resource_id is not None else "/resources"
        raise MethodNotAllowed(f"{method} is not allowed on {target}")
    query = dict(parse_qsl(query_string, keep_blank_values=True))
    if query and method not in {"GET", "DELETE"}:
        raise field_error("path", f"{method} operations take no query string")
    if query and method == "DELETE" and set(query) - {"soft"}:
        raise field_error("path", "DELETE accepts only the 'soft' query parameter")
    if query and method == "GET" and resource_id is not None:
        raise field_error("path", "GET /resources/{id} takes no query string")
    return Route(resource_id=resource_id, query=query)
