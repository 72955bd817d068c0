"""Schemathesis hooks for tests/pcf/test_api_fuzz.py: what an OpenAPI 3.0 document
cannot express about a webhook option, applied to generated bodies without changing
whether a body is schema-valid.

- Header names must be HTTP tokens and not PCF's own headers: 3.0 has no
  `propertyNames`, so generated names are renamed to valid ones (values untouched).
- A URL is refused when its host is private, loopback or link-local, which only DNS
  and the address say: a schema-valid URL is replaced by a public one."""

from __future__ import annotations

import re
from typing import Any

import schemathesis

from jobs.parsing import HEADER_NAME_PATTERN, MAX_URL_LENGTH, RESERVED_HEADERS, URL_PATTERN

_WEBHOOK_KEYS = ("webhook", "notification_webhook")
_TOKEN = re.compile(HEADER_NAME_PATTERN)
_URL = re.compile(URL_PATTERN)
PUBLIC_URL = "https://webhook.example.com/fuzz"


def _public(url: Any) -> Any:
    valid = isinstance(url, str) and len(url) <= MAX_URL_LENGTH and _URL.fullmatch(url)
    return PUBLIC_URL if valid else url


def _headers(headers: Any) -> Any:
    if not isinstance(headers, dict):
        return headers
    return {
        name
        if _TOKEN.fullmatch(name) and name.lower() not in RESERVED_HEADERS
        else f"X-Fuzz-{i}": value
        for i, (name, value) in enumerate(headers.items())
    }


def _webhook(option: Any) -> Any:
    if not isinstance(option, dict):
        return _public(option)
    fixed = dict(option)
    if "url" in fixed:
        fixed["url"] = _public(fixed["url"])
    if "headers" in fixed:
        fixed["headers"] = _headers(fixed["headers"])
    return fixed


def _options(options: Any) -> Any:
    if not isinstance(options, dict):
        return options
    return {k: _webhook(v) if k in _WEBHOOK_KEYS else v for k, v in options.items()}


def adjust_body(body: Any) -> Any:
    # Webhook options sit in a body's `options` (bulk, bulk update/delete, batch).
    if isinstance(body, dict) and "options" in body:
        return {**body, "options": _options(body["options"])}
    return body


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    # On the case, not the body: the coverage phase applies only case hooks. Assigning
    # makes schemathesis validate the body again, so only a changed one is assigned.
    adjusted = adjust_body(case.body)
    if adjusted != case.body:
        case.body = adjusted
    return case
