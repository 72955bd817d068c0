"""`python -m pcf.flower [flower options]`: Flower, only behind a basic-auth login with a
password. Flower itself starts open when --basic-auth is missing, and takes "user:" (no
password) as a login; this refuses both before anything listens."""

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
    # Imported only once the login is known good: celery's CLI is slow to load.
    from celery.__main__ import main as celery

    sys.argv = ["celery", "-A", "pcf", "flower", f"--basic-auth={auth}", *argv]
    celery()


if __name__ == "__main__":
    main(sys.argv[1:])
