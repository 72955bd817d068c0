"""Paging parameters shared by every list endpoint."""

from __future__ import annotations

from django.conf import settings

from pcf.exceptions import ValidationError


def parse_limit(raw: str | None) -> int:
    """The page size asked for: the default when absent, else 1..PCF_PAGE_SIZE_MAX."""
    if raw is None:  # absent; `limit=` (empty) is not a number, so a 400 below
        return int(settings.PCF_PAGE_SIZE_DEFAULT)
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= settings.PCF_PAGE_SIZE_MAX:
        raise ValidationError(
            details=[{"field": "limit", "message": f"limit must be 1-{settings.PCF_PAGE_SIZE_MAX}"}]
        )
    return limit
