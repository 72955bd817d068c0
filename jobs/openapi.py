"""`GET /v1/jobs/{job_id}/progress` (Server-Sent Events) in the OpenAPI document.

The stream is a plain async Django view (jobs/sse.py), not a DRF one, so drf-spectacular
never sees it; this postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])
describes the real route: a `text/event-stream` of `progress` events, then one
`complete` or `error` event carrying the job object."""

from __future__ import annotations

from typing import Any

from jobs.handlers import job_types
from jobs.models import JobStatus
from jobs.sse import FINAL_EVENT_ID, PROGRESS_FIELDS, RETRY_MS
from pcf.openapi import error_response
from pcf.pagination import CURSOR_LENGTH, CURSOR_PATTERN

PROGRESS_PATH = "/v1/jobs/{job_id}/progress"

_COUNT = {"type": "integer", "minimum": 0}

SCHEMAS: dict[str, Any] = {
    "JobProgressEvent": {
        "type": "object",
        "description": "`data` of a `progress` event (its `id` is the number of finished "
        "chunks, increasing).",
        "required": list(PROGRESS_FIELDS),
        "properties": {
            "processed": _COUNT,
            "total": _COUNT,
            "percentage": {"type": "integer", "minimum": 0, "maximum": 100},
            "successful": _COUNT,
            "failed": _COUNT,
            "skipped": _COUNT,
            "status": {"type": "string", "enum": ["queued", "processing", "cancelled", "failed"]},
        },
    },
}

_DESCRIPTION = f"""Server-Sent Events (`text/event-stream`) following one job of the tenant.

Events, each as `id:`, `event:`, `data:` (one line of JSON) lines:
- `progress`: data `JobProgressEvent`; `id` = finished chunks (increasing).
- `complete`: the job completed; data is the job object (as `GET /v1/jobs/{{job_id}}`),
  `id: {FINAL_EVENT_ID}`. The stream then closes.
- `error`: the job failed or was cancelled; data is the job object, `id: {FINAL_EVENT_ID}`.
  The stream then closes.

The stream starts with `retry: {RETRY_MS}`; comment lines (`: heartbeat`) keep it open.
A finished job sends its final event at once (after any in-flight chunk of a cancelled
job has committed, so the counts are final). `Last-Event-ID` resumes: only progress
newer than that id is sent."""

_EXAMPLE = (
    f"retry: {RETRY_MS}\n\n"
    "id: 3\nevent: progress\n"
    'data: {"processed":3000,"total":4000,"percentage":75,"successful":2990,'
    '"failed":10,"skipped":0,"status":"processing"}\n\n'
    f"id: {FINAL_EVENT_ID}\nevent: complete\n"
    'data: {"id":"job_123","type":"csv_import","status":"completed","progress":{...}}\n\n'
)


OPERATION: dict[str, Any] = {
    "operationId": "jobs_progress",
    "summary": "Follow a job's progress (Server-Sent Events)",
    "description": _DESCRIPTION,
    "tags": ["jobs"],
    "security": [{"bearerAuth": []}],
    "parameters": [
        {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}},
        {
            "name": "Last-Event-ID",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "Resume after this progress event id.",
        },
    ],
    "responses": {
        "200": {
            "description": "An event stream: `progress` events, then `complete` or `error`.",
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string", "format": "event-stream"},
                    "example": _EXAMPLE,
                }
            },
        },
        "401": error_response("Missing or invalid bearer token."),
        "404": error_response("No such job for this tenant (NOT_FOUND)."),
    },
}


def add_progress_path(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: document GET /v1/jobs/{job_id}/progress."""
    result.setdefault("paths", {}).setdefault(PROGRESS_PATH, {})["get"] = OPERATION
    result.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    return result


# --- Parameters and extra answers of the DRF job views ----------------------------------

_JOB_ID = {"type": "string", "minLength": 1, "maxLength": 40}
_LIMIT = {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}
_CURSOR = {
    "type": "string",
    "pattern": CURSOR_PATTERN,
    "maxLength": CURSOR_LENGTH,
    "description": "Opaque: `meta.next_cursor` of the previous page (empty: the first).",
}
JOB_PARAMETERS: dict[str, dict[str, Any]] = {
    "job_id": _JOB_ID,
    "status": {"type": "string", "enum": list(JobStatus.values)},
    "limit": _LIMIT,
    "cursor": _CURSOR,
    "format": {"type": "string", "enum": ["json", "csv"], "default": "json"},
}
JOB_OPERATIONS = {
    "jobs_list",
    "jobs_retrieve",
    "jobs_cancel",
    "jobs_errors",
    "jobs_results",
    "jobs_webhooks",
    "jobs_progress",
}
# Beyond 401/404/429/500 (pcf.openapi.document_errors): a finished job cannot be
# cancelled, a running one has no results yet.
CONFLICTS = {
    "jobs_cancel": "The job has already finished.",
    "jobs_results": "The job is still running.",
}


def document_jobs(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: job parameters' types, ranges and enums,
    the errors CSV, and 409 where a job's state refuses the call."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            operation_id = operation.get("operationId")
            if operation_id not in JOB_OPERATIONS:
                continue
            for parameter in operation.get("parameters", []):
                schema = JOB_PARAMETERS.get(parameter["name"])
                if parameter["name"] == "type":  # the job types with a registered handler
                    schema = {"type": "string", "enum": sorted(job_types())}
                if schema is not None and parameter["in"] in ("path", "query"):
                    parameter["schema"] = schema
            if operation_id in CONFLICTS:
                operation["responses"]["409"] = error_response(
                    f"{CONFLICTS[operation_id]} Code: CONFLICT."
                )
            if operation_id == "jobs_errors":
                operation["responses"]["200"].setdefault("content", {})["text/csv"] = {
                    "schema": {"type": "string"}
                }
    return result
