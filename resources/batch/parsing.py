"""Reading a batch request: the envelope, its options, its limits and each operation.

Only a malformed envelope is an error of the whole request (400); a malformed
operation becomes that operation's own VALIDATION_ERROR result."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from jobs.parsing import WebhookOption, parse_webhook_option
from pcf.bounds import BIGINT_MAX, bounded_int
from pcf.exceptions import (
    BatchTooLarge,
    PcfError,
    ValidationError,
    field_detail,
    field_error,
    field_errors,
)
from resources.batch.references import check_indexes, referenced_ids
from resources.batch.routing import check_route

METHODS = ("GET", "POST", "PATCH", "DELETE")
OPERATION_KEYS = frozenset({"id", "method", "path", "body", "depends_on", "idempotency_key"})
# Op ids name results in references (`{op1.body.data.id}`), so no dots or braces.
OP_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class BatchOptions:
    atomic: bool = False
    continue_on_error: bool = True
    parallel: int = 1
    timeout_ms: int | None = None
    suppress_success: bool = False
    soft_delete: bool = False
    run_async: bool = False
    webhook: WebhookOption | None = None

    @property
    def stop_on_failure(self) -> bool:
        return self.atomic or not self.continue_on_error

    def as_json(self) -> dict[str, Any]:
        """The options as stored on an async batch job (the webhook lives on the job)."""
        return {
            "atomic": self.atomic,
            "continue_on_error": self.continue_on_error,
            "parallel": self.parallel,
            "timeout_ms": self.timeout_ms,
            "suppress_success": self.suppress_success,
            "soft_delete": self.soft_delete,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchOptions:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Operation:
    """One operation as sent (`raw`, echoed as `originalOperation`) and as understood.

    `error` is set when the operation is malformed; it then never runs."""

    index: int
    id: str
    raw: Any
    method: str = ""
    path: str = ""
    body: Any = None
    depends_on: tuple[str, ...] = ()
    idempotency_key: str | None = None
    error: PcfError | None = None
    deps: list[int] = field(default_factory=list)  # positions this one waits for


def _bool(options: dict[str, Any], name: str, default: bool) -> bool:
    value = options.get(name, default)
    if not isinstance(value, bool):
        raise field_error(f"options.{name}", "Must be true or false")
    return value


def _bounded_int(options: dict[str, Any], name: str, high: int = BIGINT_MAX) -> int | None:
    value = options.get(name)
    return None if value is None else bounded_int(value, field=f"options.{name}", high=high)


_OPTION_KEYS = frozenset(
    {
        "atomic",
        "continue_on_error",
        "parallel",
        "timeout_ms",
        "suppress_success",
        "soft_delete",
        "async",
        "webhook",
    }
)


def parse_options(raw: Any) -> BatchOptions:
    if raw is None:
        return BatchOptions()
    if not isinstance(raw, dict):
        raise field_error("options", "Must be a JSON object")
    # A misspelt option (say `atomc`) must not silently run a non-atomic batch.
    unknown = sorted(set(raw) - _OPTION_KEYS)
    if unknown:
        raise field_errors([field_detail(f"options.{name}", "Unknown option") for name in unknown])
    webhook = None
    if raw.get("webhook") is not None:
        webhook = parse_webhook_option(raw["webhook"])
    # `parallel` above the setting is lowered to it (documented), up to the bound every
    # integer option has.
    parallel = _bounded_int(raw, "parallel") or 1
    return BatchOptions(
        atomic=_bool(raw, "atomic", False),
        continue_on_error=_bool(raw, "continue_on_error", True),
        # Bounded: more threads than the setting would only queue on connections.
        parallel=min(parallel, int(settings.PCF_BATCH_MAX_PARALLEL)),
        timeout_ms=_bounded_int(raw, "timeout_ms", int(settings.PCF_BATCH_MAX_TIMEOUT_MS)),
        suppress_success=_bool(raw, "suppress_success", False),
        soft_delete=_bool(raw, "soft_delete", False),
        run_async=_bool(raw, "async", False),
        webhook=webhook,
    )


def parse_envelope(data: Any) -> tuple[list[Any], BatchOptions]:
    """The operations list and the options, or a 400 for the whole request."""
    if not isinstance(data, dict):
        raise ValidationError("The batch body must be a JSON object")
    # Every envelope problem at once: `{"ops": []}` is both an unknown field and a
    # missing `operations`, and saying only the first leaves the client guessing.
    problems = [
        field_detail(name, "Unknown field")
        for name in sorted(set(data) - {"operations", "options"})
    ]
    operations = data.get("operations")
    if "operations" not in data:
        problems.append(field_detail("operations", "operations is required (a list of operations)"))
    elif not isinstance(operations, list):
        problems.append(field_detail("operations", "operations must be a list"))
    elif not operations:
        problems.append(field_detail("operations", "operations must not be empty"))
    if problems or not isinstance(operations, list):  # (the latter is for mypy)
        raise ValidationError("Invalid batch request", details=problems)
    return operations, parse_options(data.get("options"))


def _method_of(raw: Any) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("method"), str):
        return str(raw["method"]).upper()
    return None


def check_limits(operations: list[Any]) -> None:
    """Raise BatchTooLarge (413) before anything runs when a limit is passed."""
    count = len(operations)
    methods = [_method_of(op) for op in operations]
    all_deletes = all(method == "DELETE" for method in methods)
    max_deletes = settings.PCF_BATCH_MAX_DELETE_OPERATIONS
    limit = max_deletes if all_deletes else settings.PCF_BATCH_MAX_OPERATIONS
    if count > limit:
        kind = "DELETE operations" if all_deletes else "operations"
        raise BatchTooLarge(f"A batch may hold at most {limit} {kind}; this one has {count}")
    gets = methods.count("GET")
    if gets > settings.PCF_BATCH_MAX_GET_OPERATIONS:
        raise BatchTooLarge(
            f"A batch may hold at most {settings.PCF_BATCH_MAX_GET_OPERATIONS} GET operations;"
            f" this one has {gets}"
        )


def _parse_one(op: Operation, raw: Any, positions: dict[str, int]) -> None:
    if not isinstance(raw, dict):
        raise ValidationError("An operation must be a JSON object")
    problems = [
        field_detail(key, "Unknown operation field") for key in sorted(set(raw) - OPERATION_KEYS)
    ]
    method = raw.get("method")
    if not isinstance(method, str) or not method:
        problems.append(field_detail("method", "method is required"))
    elif method not in METHODS:
        # Exact match: HTTP methods are case-sensitive, and `get` must not quietly run.
        problems.append(
            field_detail("method", f"method must be one of {', '.join(METHODS)} (upper case)")
        )
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        problems.append(field_detail("path", "path is required"))
    depends_on = raw.get("depends_on", [])
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        problems.append(field_detail("depends_on", "Must be a list of operation ids"))
        depends_on = []
    key = raw.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH):
        problems.append(field_detail("idempotency_key", f"Must be 1-{MAX_KEY_LENGTH} characters"))
    if problems:
        raise field_errors(problems)
    op.method = str(method)
    op.path = str(path)
    op.body = raw.get("body")
    op.idempotency_key = key
    op.depends_on = tuple(depends_on)

    check_indexes([op.path, op.body])
    # Dependencies: named ones plus every operation a reference points at.
    named = list(depends_on) + referenced_ids([op.path, op.body], positions)
    for dep in dict.fromkeys(named):
        position = positions.get(dep)
        if position is None:
            raise field_error("depends_on", f"No operation with id {dep!r} in this batch")
        if position >= op.index:
            raise field_error("depends_on", f"Operation {dep!r} does not run before {op.id!r}")
        op.deps.append(position)
    check_route(op.method, op.path, templated=True)


def parse_operations(raw_operations: list[Any]) -> list[Operation]:
    """Every operation in request order; malformed ones carry their error."""
    operations: list[Operation] = []
    positions: dict[str, int] = {}
    for index, raw in enumerate(raw_operations):
        given = raw.get("id") if isinstance(raw, dict) else None
        op_id = given if isinstance(given, str) and given else f"op{index + 1}"
        op = Operation(index=index, id=op_id, raw=raw)
        operations.append(op)
        if given is not None and (not isinstance(given, str) or not OP_ID.match(given)):
            op.error = field_error("id", "id must be 1-64 letters, digits, '_' or '-'")
        elif op_id in positions:
            op.error = field_error("id", f"Duplicate operation id {op_id!r}")
        else:
            positions[op_id] = index
    for op in operations:
        if op.error is not None:
            continue
        try:
            _parse_one(op, op.raw, positions)
        except PcfError as error:
            op.error = error
    return operations
