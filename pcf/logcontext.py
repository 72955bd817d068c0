"""Fields every log line carries while they are bound: the request id during a request,
the job id, chunk seq, tenant and attempt while a worker runs a chunk.

`bind(...)` sets them in a context variable (so threads and asyncio tasks each see their
own: Django copies the context into the thread that runs a sync view), and
`ContextFilter`, on every handler, copies them onto each log record, where the JSON
formatter (PCF_LOG_FORMAT=json) writes them as keys. Django-free: Celery's logging set-up
uses it too."""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})
_fields: ContextVar[MappingProxyType[str, Any]] = ContextVar("pcf_log_fields", default=_EMPTY)

# An incoming X-Request-ID is kept only if it is short and plain (it ends up in log lines,
# a response header and a database column): letters, digits and . _ : - , at most 128.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


@contextlib.contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log line inside the block (nested blocks add to them)."""
    token = _fields.set(MappingProxyType({**_fields.get(), **fields}))
    try:
        yield
    finally:
        _fields.reset(token)


def current(name: str) -> Any:
    """A bound field's value, or None."""
    return _fields.get().get(name)


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID if it is acceptable, else a new one."""
    if header and REQUEST_ID_PATTERN.fullmatch(header):
        return header
    return uuid.uuid4().hex


class ContextFilter(logging.Filter):
    """Copies the bound fields onto each record (never over an explicit `extra`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _fields.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message, the bound fields and any
    `extra` (python-json-logger)."""
    # Imported here: plain-text runs never need the package loaded.
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


def use_json(logger: logging.Logger) -> None:
    """Give `logger`'s handlers the JSON formatter and the context filter (Celery sets up
    its own handlers in workers: pcf.celery calls this on them)."""
    for handler in logger.handlers:
        handler.setFormatter(json_formatter())
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
