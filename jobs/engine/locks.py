"""The engine's fixed PostgreSQL advisory lock keys (bigint form), in one place so two
never collide. Running window messages use keys of their own (jobs.engine.claims)."""

from __future__ import annotations

from django.db import connection

DISPATCHER = 7_301_001  # one refill of the window at a time
SWEEPER = 7_301_002  # one sweep at a time
PURGE = 7_301_003  # one retention purge at a time


def hold_for_transaction(key: int) -> None:
    """Wait for `key` and hold it until the current transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def try_hold(key: int) -> bool:
    """Take `key` for this session if it is free; False when someone holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        return bool(cursor.fetchone()[0])


def let_go(key: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
