"""Where the server is and who we are: arguments first, then PCF_URL / PCF_TOKEN."""

from __future__ import annotations

import os

from pcf_client.errors import PcfError

DEFAULT_URL = "http://127.0.0.1:8000"


class ConfigError(PcfError):
    """No token, or a base URL that cannot be used."""


def resolve_url(base_url: str | None) -> str:
    """The server's root URL without a trailing `/` or `/v1` (the client adds `/v1`)."""
    url = (base_url or os.environ.get("PCF_URL") or DEFAULT_URL).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"base URL must start with http:// or https://, got {url!r}")
    return url.removesuffix("/v1")


def resolve_token(token: str | None) -> str:
    value = token or os.environ.get("PCF_TOKEN")
    if not value:
        raise ConfigError("no API token: pass token=... or set PCF_TOKEN")
    return value.strip()
