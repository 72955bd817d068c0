"""Chunk task results, written in the chunk's own transaction.

django-celery-results stores a task's outcome after the task returns: a get_or_create
(three statements) and a commit of its own, per chunk. Chunk tasks instead add the same
row (same table, same encoding, so the admin and AsyncResult read it as usual) to the
statement that marks the chunk done: one round trip, and the result commits with the work
it describes. Failures still go through the backend (store_errors_even_if_ignored)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone
from django_celery_results.models import TaskResult

UPSERT_SQL = (
    f"INSERT INTO {TaskResult._meta.db_table}"
    + """
    (task_id, status, content_type, content_encoding, result, date_done, date_created,
     meta, task_args, task_kwargs, task_name, worker)
VALUES (%s, 'SUCCESS', 'application/json', 'utf-8', %s, %s, %s, '{"children": []}',
        %s, %s, %s, %s)
ON CONFLICT (task_id) DO UPDATE SET
    status = EXCLUDED.status, result = EXCLUDED.result, date_done = EXCLUDED.date_done,
    worker = EXCLUDED.worker, traceback = NULL
"""
)


@dataclass(frozen=True)
class TaskRecord:
    """Who ran a chunk: the Celery request's id, name, arguments and worker, encoded as
    the result backend encodes them (see record_of)."""

    task_id: str
    task_name: str
    task_args: str
    task_kwargs: str
    worker: str

    def for_task(self, task_id: str) -> TaskRecord:
        """The same run, recorded under another task id (one chunk of a message)."""
        return replace(self, task_id=task_id)

    def upsert(self, outcome: str, now: datetime) -> tuple[str, list[Any]]:
        """The statement (and its parameters) that records `outcome` as SUCCESS."""
        params = [
            self.task_id,
            json.dumps(outcome),
            now,
            now,
            self.task_args,
            self.task_kwargs,
            self.task_name,
            self.worker,
        ]
        return UPSERT_SQL, params


def record_of(task: Any) -> TaskRecord:
    """The TaskRecord of the task being executed (a bound Celery task)."""
    request = task.request
    encode = task.backend.encode_content
    args = request.argsrepr if getattr(request, "argsrepr", None) is not None else request.args
    kwargs = (
        request.kwargsrepr if getattr(request, "kwargsrepr", None) is not None else request.kwargs
    )
    return TaskRecord(
        task_id=request.id,
        task_name=task.name,
        task_args=encode(args)[2],
        task_kwargs=encode(kwargs)[2],
        worker=request.hostname or "",
    )


def record_skip(record: TaskRecord | None, message: str) -> str:
    """Store `message` as the task's result (when run by a task); return it."""
    if record is not None:
        sql, params = record.upsert(message, timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    return message
