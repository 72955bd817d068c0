"""Celery tasks of the job engine: thin wrappers that call the engine.

Queues: `chunks` (run_dispatch: the window's messages), `webhooks` (deliver_webhook),
`celery` (sweep, purge); see CELERY_TASK_ROUTES in pcf/settings.py and the Procfile.
The engine sends them by name (jobs.engine.broker), so nothing imports this module
to send one."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import task_prerun
from django.db import InterfaceError, OperationalError, connections

from jobs.engine import execution, heartbeat, infra, outbox, retention, sweeper
from jobs.task_results import record_of
from pcf.db import session_commits_without_flush

logger = logging.getLogger("pcf.jobs.tasks")

__all__ = ["heartbeat"]  # imported for its signal handlers: workers send heartbeats


@task_prerun.connect
def _drop_broken_connections(**_: Any) -> None:
    # Workers keep their database connection across tasks (CELERY_DB_REUSE_MAX): a
    # fresh backend per chunk cost a connect plus cold catalog caches. A connection
    # that failed (PostgreSQL restarted) is dropped here so the task reconnects.
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and conn.errors_occurred and not conn.is_usable():
            conn.close()


@task_prerun.connect
def _commit_mode(sender: Any = None, **_: Any) -> None:
    # Window messages commit without waiting for the WAL flush (see
    # jobs.engine.execution for why that is safe, and jobs.engine.ledger for the
    # commits that do flush); every other task on this worker gets the server's
    # default. By name: the sender is the registered Task, not shared_task's proxy.
    try:
        session_commits_without_flush(getattr(sender, "name", None) == run_dispatch.name)
    except (OperationalError, InterfaceError):
        # The database is away: the task itself waits for it (infra.ride_out), and a new
        # session starts with the default; raising here would fail the task untried.
        infra.drop_connections()


def _paused(what: str) -> str:
    # PostgreSQL stayed away longer than PCF_INFRA_WAIT_SECONDS: nothing is lost, the
    # sweeper sends the work again once it is back.
    logger.warning("%s paused: the database is unavailable", what)
    return "paused: the database is unavailable"


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    store_errors_even_if_ignored=True,
)
def run_dispatch(self: Task[Any, Any], dispatch_id: int) -> str:
    """One window message: apply or check its chunks (jobs.engine.execution)."""
    try:
        return execution.run_dispatch(dispatch_id, record=record_of(self))
    except infra.InfrastructureUnavailable:
        return _paused(f"message {dispatch_id}")


# Its outcome is a WebhookDelivery row; the result backend would only duplicate it.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_webhook(message_id: str) -> str:
    """One attempt of an outbox message (jobs.engine.outbox)."""
    try:
        return outbox.deliver(message_id)
    except infra.InfrastructureUnavailable:
        return _paused(f"webhook {message_id}")


@shared_task(ignore_result=True)
def sweep() -> dict[str, int] | str:
    try:
        return sweeper.sweep()
    except Exception as exc:
        if infra.is_infrastructure_error(exc):
            infra.drop_connections()
            return _paused("sweep")
        raise


@shared_task(ignore_result=True)
def purge() -> dict[str, int]:
    return retention.purge()
