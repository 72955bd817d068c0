"""The "then" of the import fault tests: one dict of everything the issue promises, so
a failure shows every broken promise at once (pytest diffs the dicts)."""

from __future__ import annotations

import time
from typing import Any

from tests.stack import Stack, Watch, WebhookReceiver, tenant_rows

# "A running job makes progress again within 60 s" (issue 10, API.md v1.1).
STALL_LIMIT_SECONDS = 60.0


def healthz_after(stack: Stack, *, timeout: float = 60) -> int | None:
    """GET /healthz until it answers 200 (or `timeout` passes); the last status."""
    deadline = time.monotonic() + timeout
    status = stack.healthz()
    while status != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
        status = stack.healthz()
    return status


def webhook_events(receiver: WebhookReceiver, job_id: str, *, timeout: float) -> list[str]:
    """The events of the job's webhooks answered 2xx, waiting up to `timeout` s for one."""
    deadline = time.monotonic() + timeout
    while True:
        events = [
            str(hook.body.get("event"))
            for hook in receiver.snapshot()
            if hook.body.get("job_id") == job_id and 200 <= hook.status < 300
        ]
        if events or time.monotonic() > deadline:
            return sorted(set(events))
        time.sleep(0.2)


def import_outcome(
    stack: Stack, watch: Watch, *, tenant: str, receiver: WebhookReceiver | None = None
) -> dict[str, Any]:
    job = watch.job or {"id": None, "status": None, "progress": {}}
    rows = tenant_rows(stack.postgres, tenant)
    outcome = {
        "status": job["status"],
        "successful": job["progress"].get("successful"),
        "failed": job["progress"].get("failed"),
        "rows in PostgreSQL": rows.count,
        "duplicate rows": rows.duplicates,
        f"stalled > {STALL_LIMIT_SECONDS:.0f}s": watch.longest_stall > STALL_LIMIT_SECONDS,
        "healthz": healthz_after(stack),
        "alive": stack.alive(),
    }
    if receiver is not None:
        outcome["webhooks delivered"] = webhook_events(receiver, job["id"], timeout=30)
    return outcome


def exact_import(stack: Stack, rows: int, *, webhook: bool = False) -> dict[str, Any]:
    """The outcome of an import of `rows` valid rows that nothing could break."""
    expected = {
        "status": "completed",
        "successful": rows,
        "failed": 0,
        "rows in PostgreSQL": rows,
        "duplicate rows": 0,
        f"stalled > {STALL_LIMIT_SECONDS:.0f}s": False,
        "healthz": 200,
        "alive": dict.fromkeys(stack.processes, True),
    }
    if webhook:
        expected["webhooks delivered"] = ["csv_import.completed"]
    return expected
