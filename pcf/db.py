"""Commit durability, chosen per transaction or per session in one place.

PostgreSQL's `synchronous_commit = off` returns from COMMIT before the WAL is flushed:
a crash may lose the last few hundred milliseconds of commits, never half of one. The
engine uses it where a lost commit only means the work is done again (a chunk's rows and
its done mark are lost together), and flushes where something outside the database is
told about the commit (a webhook, a verdict)."""

from __future__ import annotations

from django.db import connection


def commit_durably() -> None:
    """This transaction's COMMIT waits for its WAL flush, whatever the session says
    (and covers every earlier commit of the server)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = on")


def commit_without_flush() -> None:
    """This transaction's COMMIT does not wait for its WAL flush."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


def session_commits_without_flush(wanted: bool) -> None:
    """Every later COMMIT of this session skips (True) or waits for (False) the WAL
    flush; remembered on the connection, so switching costs a statement only when the
    mode changes."""
    if connection.connection is None:
        if not wanted:
            return  # a new session starts with the server's default
        connection.ensure_connection()
    raw = connection.connection
    if getattr(raw, "_pcf_async_commit", False) == wanted:
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off" if wanted else "RESET synchronous_commit")
    raw._pcf_async_commit = wanted
