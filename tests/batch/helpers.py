"""Helpers for batch tests: build operations, post a batch, and hold a row lock or run a
call from another thread (each with its own database connection)."""

from __future__ import annotations

import threading
from typing import Any

from django.db import connection, transaction
from rest_framework.test import APIClient

from resources.models import Resource


def post_batch(api: APIClient, operations: list[Any], **options: Any) -> Any:
    body: dict[str, Any] = {"operations": operations}
    if options:
        body["options"] = options
    return api.post("/v1/batch", body, format="json")


def create(name: str = "R", type_: str = "document") -> dict[str, Any]:
    return {"method": "POST", "path": "/resources", "body": {"name": name, "type": type_}}


def post_body(body: Any) -> dict[str, Any]:
    return {"method": "POST", "path": "/resources", "body": body}


class RowLock:
    """Holds `SELECT ... FOR UPDATE` on one resource from another connection (a thread)
    until released: a real way to make an operation wait."""

    def __init__(self, public_id: str) -> None:
        self.public_id = public_id
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                Resource.objects.select_for_update().get(public_id=self.public_id)
                self.locked.set()
                self.release.wait(timeout=30)
        finally:
            connection.close()

    def __enter__(self) -> RowLock:
        self.thread.start()
        assert self.locked.wait(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(timeout=30)


def in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run fn in a thread with its own DB connection; returns (thread, result holder)."""
    holder: dict[str, Any] = {}

    def run() -> None:
        try:
            holder["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # surfaced by the test
            holder["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, holder
