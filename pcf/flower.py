"""`python -m pcf.flower [flower options]`: Flower, only behind a basic-auth login with a
password. Flower itself starts open when --basic-auth is missing, and takes "user:" (no
password) as a login; this refuses both before anything listens.

Its Broker tab lists the queues declared in CELERY_TASK_QUEUES (chunks, webhooks,
celery) with their lengths, read from Redis itself: Flower needs --broker-api only for
RabbitMQ's management API."""

from __future__ import annotations

import os
import sys


def basic_auth_problem(value: str) -> str | None:
    """Why FLOWER_BASIC_AUTH (`user:password[,user:password...]`) is unusable, or None."""
    logins = [login for login in value.split(",") if login]
    if not logins:
        return "FLOWER_BASIC_AUTH must be set to user:password"
    for login in logins:
        user, _, password = login.partition(":")
        if not user or not password:
            return "FLOWER_BASIC_AUTH needs a user and a non-empty password (user:password)"
    return None


def main(argv: list[str]) -> None:
    auth = os.environ.get("FLOWER_BASIC_AUTH", "")
    problem = basic_auth_problem(auth)
    if problem:
        sys.exit(problem)
    # Flower keeps Prometheus metrics of its own: they must not land in the directory
    # where web and workers sum theirs (pcf.metrics_process).
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # Imported only once the login is known good: celery's CLI is slow to load.
    from celery.__main__ import main as celery

    sys.argv = ["celery", "-A", "pcf", "flower", f"--basic-auth={auth}", *argv]
    celery()


if __name__ == "__main__":
    main(sys.argv[1:])
