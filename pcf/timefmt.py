"""Timestamps on the wire: ISO 8601 in UTC with a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime


def iso_z(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> datetime | None:
    """Parse an ISO 8601 timestamp; naive ones are taken as UTC. None if unparseable."""
    try:
        parsed = parse_datetime(value.strip())
    except (ValueError, AttributeError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        # In UTC: PostgreSQL refuses offsets past ±15:59, which ISO 8601 allows.
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
        return None
