"""Python client for the PCF batch and bulk resource API (see README.md)."""

from __future__ import annotations

__version__ = "0.1.0"

from pcf_client.aio import AsyncPcfClient
from pcf_client.aio_jobs import AsyncJob, AsyncJobGroup
from pcf_client.client import PcfClient
from pcf_client.errors import (
    ApiError,
    JobFailed,
    PcfError,
    RateLimited,
    TransportError,
    WaitTimeout,
)
from pcf_client.jobs import Job, JobGroup
from pcf_client.models import (
    BatchReport,
    BatchResult,
    BulkResult,
    JobProgress,
    JobRowError,
    JobState,
    ProgressEvent,
    Resource,
)
from pcf_client.retry import RetryEvent, RetryPolicy

__all__ = [
    "ApiError",
    "AsyncJob",
    "AsyncJobGroup",
    "AsyncPcfClient",
    "BatchReport",
    "BatchResult",
    "BulkResult",
    "Job",
    "JobFailed",
    "JobGroup",
    "JobProgress",
    "JobRowError",
    "JobState",
    "PcfClient",
    "PcfError",
    "ProgressEvent",
    "RateLimited",
    "Resource",
    "RetryEvent",
    "RetryPolicy",
    "TransportError",
    "WaitTimeout",
]
