"""Infrastructure failures: telling them from data and code errors, and riding them out.

A database restart, a dropped connection or a broker outage pauses work; it never fails
a row, a chunk or a job (API.md, "Limits and failure semantics"). Everything else that
a handler raises is a code error, recorded with a reference id (pcf.errors) whose
details (driver text, hosts, traceback) go to the log only."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import kombu.exceptions
import psycopg
import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

logger = logging.getLogger("pcf.jobs.infra")

T = TypeVar("T")

# SQLSTATEs that say "the server or the connection", not "this data": connection
# exceptions (class 08), shutdowns, too many connections, and the transient outcomes of
# concurrency (serialization failure, deadlock) that a new attempt resolves.
_TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01"})


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (exc, exc.__cause__):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def is_infrastructure_error(exc: BaseException) -> bool:
    """True for a failure of the database, the broker or a connection to them."""
    if isinstance(exc, InterfaceError | psycopg.InterfaceError):
        return True
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return True
    if isinstance(exc, kombu.exceptions.OperationalError):
        return True
    if isinstance(exc, OperationalError | psycopg.OperationalError):
        state = _sqlstate(exc)
        # No SQLSTATE: the client library failed (connection refused, closed, lost).
        return state is None or state.startswith("08") or state in _TRANSIENT_SQLSTATES
    return False


def drop_connections() -> None:
    """Forget every database connection of this thread; the next query reconnects."""
    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except Exception:
            conn.connection = None


def database_answers() -> bool:
    try:
        connections["default"].ensure_connection()
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except (OperationalError, InterfaceError):
        drop_connections()
        return False


class InfrastructureUnavailable(Exception):
    """The database did not come back within PCF_INFRA_WAIT_SECONDS."""


def wait_for_database(*, deadline: float) -> None:
    """Poll until PostgreSQL answers again (backing off to 2 s between tries); raise
    InfrastructureUnavailable at `deadline` (time.monotonic())."""
    delay = 0.2
    while not database_answers():
        if time.monotonic() >= deadline:
            raise InfrastructureUnavailable("the database did not come back in time")
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 2.0)


def ride_out(work: Callable[[bool], T], *, what: str) -> T:
    """Run `work(first)` until it gets through infrastructure failures: after one, wait
    for the database to answer again and run it anew with first=False (so it can tell
    a resumed attempt from a new one). Other exceptions propagate. Gives up with
    InfrastructureUnavailable after PCF_INFRA_WAIT_SECONDS of waiting."""
    first = True
    deadline: float | None = None
    while True:
        try:
            return work(first)
        except Exception as exc:
            if not is_infrastructure_error(exc):
                raise
            logger.warning("%s paused by an infrastructure failure: %r", what, exc)
            drop_connections()
            if deadline is None:
                deadline = time.monotonic() + float(settings.PCF_INFRA_WAIT_SECONDS)
            wait_for_database(deadline=deadline)
            logger.info("%s resumes: the database answers again", what)
            first = False
