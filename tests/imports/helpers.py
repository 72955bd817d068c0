"""Helpers for import tests: upload a CSV, and run a job's chunks in-process.

`run_chunks` calls the engine's own check and chunk runners (tests.jobs.helpers
.run_pending), the same code a Celery worker runs, so handler + ledger + counters are
exercised for real; the end-to-end tests in test_import_e2e.py use real worker
processes instead."""

from __future__ import annotations

import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import Job
from tests.jobs.helpers import run_pending

COOKBOOK_CSV = """
name,type,status,metadata
"Resource 1",document,active,"{""key1"":""value1""}"
"Resource 2",image,active,"{""key2"":""value2""}"
"Resource 3",video,draft,"{""key3"":""value3""}"
"""

COOKBOOK_OPTIONS = {
    "mapping": {
        "name": "name",
        "type": "type",
        "status": "status",
        "metadata": {"type": "json", "field": "metadata"},
    },
    "validation": "strict",
    "dry_run": False,
    "chunk_size": 1000,
}


def upload(
    api: Any, content: bytes | str, options: dict[str, Any] | None = None, **extra: Any
) -> Any:
    data = content.encode() if isinstance(content, str) else content
    body: dict[str, Any] = {
        "file": SimpleUploadedFile("resources.csv", data, content_type="text/csv")
    }
    if options is not None:
        body["options"] = json.dumps(options)
    return api.post("/v1/import/resources", body, format="multipart", **extra)


def run_chunks(job_id: str) -> Job:
    """Check what a strict import staged for checking, then apply what is pending, in
    seq order, as workers would (the last check dispatches or fails the job)."""
    return run_pending(job_id)
