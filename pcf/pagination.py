"""Paging shared by every list endpoint: the page size and the opaque cursor.

A cursor is a listing's position (the last row of the page), sealed with AES-SIV:
deterministic authenticated encryption under a key derived from SECRET_KEY, with the
listing and its owner (tenant, job) as associated data. A client can neither read the
position (global sequence numbers, ids, timestamps) nor forge or alter it, and a
cursor of one listing or tenant is refused by every other. Every cursor has the same
length, so not even the number of digits of a position shows.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from pcf.exceptions import ValidationError, field_error

# A position is padded to this many bytes before sealing: a job list's position,
# 16 digits of microseconds, "|" and a job id of up to 40 characters, fits.
_POSITION_BYTES = 64
_TAG_BYTES = 16  # the synthetic IV AES-SIV puts in front of the ciphertext
# Every cursor's length in base64url without padding: other input is refused unread.
CURSOR_LENGTH = math.ceil((_TAG_BYTES + _POSITION_BYTES) * 4 / 3)
# What the OpenAPI documents state of a cursor: base64url, at most CURSOR_LENGTH.
CURSOR_PATTERN = "^[A-Za-z0-9_-]*$"

# Changing the label (or the layout above) retires every cursor issued before.
_KEY_LABEL = b"pcf.pagination cursor key v1"

RowT = TypeVar("RowT")


def parse_limit(raw: str | None) -> int:
    """The page size asked for: the default when absent, else 1..PCF_PAGE_SIZE_MAX."""
    if raw is None:  # absent; `limit=` (empty) is not a number, so a 400 below
        return int(settings.PCF_PAGE_SIZE_DEFAULT)
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= settings.PCF_PAGE_SIZE_MAX:
        raise field_error("limit", f"limit must be 1-{settings.PCF_PAGE_SIZE_MAX}")
    return limit


@dataclass(frozen=True)
class CursorScope:
    """What a cursor pages through: one listing of one tenant, and for listings inside
    another object (a job's errors) that object's id in `within`."""

    listing: str
    tenant_id: int
    within: str = ""

    def associated_data(self) -> list[bytes]:
        # Separate items, not one joined string: ("a", "bc") and ("ab", "c") differ.
        owner = [str(self.tenant_id).encode(), self.within.encode()]
        return [_KEY_LABEL, self.listing.encode(), *owner]


def invalid_cursor() -> ValidationError:
    """The one 400 for any cursor this server did not issue for the listing at hand."""
    return field_error("cursor", "Invalid cursor")


@functools.lru_cache(maxsize=8)
def _cipher(secret: str) -> AESSIV:
    # HKDF turns the Django secret (any length, any alphabet) into a 512-bit AES-SIV key
    # (AES-256 for both the MAC and the cipher) used for nothing else.
    key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=_KEY_LABEL).derive(
        secret.encode()
    )
    return AESSIV(key)


def encode_cursor(scope: CursorScope, position: str) -> str:
    """The opaque cursor for `position` in `scope`; `decode_cursor` gives it back."""
    plain = position.encode()
    if len(plain) > _POSITION_BYTES or b"\0" in plain:
        raise ValueError(f"a cursor position must be at most {_POSITION_BYTES} bytes, no NUL")
    padded = plain.ljust(_POSITION_BYTES, b"\0")
    sealed = _cipher(settings.SECRET_KEY).encrypt(padded, scope.associated_data())
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def decode_cursor(scope: CursorScope, raw: str) -> str:
    """The position sealed in `raw`, or `invalid_cursor()` unless `encode_cursor` made
    `raw` for this same scope (under SECRET_KEY or one of SECRET_KEY_FALLBACKS)."""
    if len(raw) != CURSOR_LENGTH:  # hostile input is refused before any work
        raise invalid_cursor()
    try:
        sealed = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (ValueError, binascii.Error):
        raise invalid_cursor() from None
    # urlsafe_b64decode skips characters outside the alphabet: re-encode to be exact.
    if base64.urlsafe_b64encode(sealed).decode().rstrip("=") != raw:
        raise invalid_cursor()
    for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        try:
            padded = _cipher(secret).decrypt(sealed, scope.associated_data())
        except InvalidTag:
            continue
        return padded.rstrip(b"\0").decode()
    raise invalid_cursor()


def cut_page(
    rows: Sequence[RowT], limit: int, scope: CursorScope, position: Callable[[RowT], str]
) -> tuple[list[RowT], str | None]:
    """A keyset page from `rows`, read with one row more than `limit`: the first `limit`
    rows, and the next page's cursor (the last row's `position`), or None at the end."""
    if len(rows) <= limit:
        return list(rows), None
    return list(rows[:limit]), encode_cursor(scope, position(rows[limit - 1]))
