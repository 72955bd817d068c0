"""Imports on the wire: the 202 body of an accepted import."""

from __future__ import annotations

from typing import Any

from jobs.models import Job
from jobs.representation import job_accepted


def import_accepted(job: Job, total_rows: int) -> dict[str, Any]:
    """The job's 202 body with the import's row count and the rows processed so far."""
    return {**job_accepted(job), "total_rows": total_rows, "processed": job.processed}
