"""PCF's Prometheus metrics: defined once here, incremented where things happen (the job
engine, the webhook outbox, the sweeper, the HTTP middleware), exposed by `/metrics`
(pcf.metrics_http).

Counters and histograms only: every process adds to them, and in multiprocess mode
(pcf.metrics_process) `/metrics` sums all processes' files. Gauges of the backlog are
not kept by any process: they are read from PostgreSQL when scraped, by collectors the
apps register here (`register_scrape_collector`; jobs registers the engine's backlog),
so they are right whichever process answers and whichever workers are alive."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from pcf import metrics_process

metrics_process.configure()  # before the first metric below is created

JOBS = Counter(
    "pcf_jobs_total",
    "Jobs that reached a status: queued at submission, then completed, failed or cancelled",
    ["type", "status"],
)
ROWS = Counter(
    "pcf_rows_total",
    "Rows (units of work) counted in jobs, by outcome: successful, failed, skipped",
    ["outcome"],
)
# Chunks of 1,000 rows take tens of milliseconds to seconds; a stuck one, minutes.
CHUNK_DURATION = Histogram(
    "pcf_chunk_duration_seconds",
    "Time to apply one chunk (its handler and its commit), in a worker",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
CHUNKS_FAILED = Counter(
    "pcf_chunks_failed_total",
    "Chunks recorded failed (a handler error after its retries, or a poison chunk), by"
    " pass: apply, or check (which fails its job)",
    ["kind"],
)
WEBHOOK_DELIVERIES = Counter(
    "pcf_webhook_deliveries_total",
    "Webhook attempts, by outcome: delivered, retrying (will be tried again), failed (gave up)",
    ["outcome"],
)
HTTP_REQUESTS = Counter(
    "pcf_http_requests_total",
    "HTTP requests answered, by URL pattern name (never the raw path) and status code",
    ["route", "status"],
)
HTTP_DURATION = Histogram(
    "pcf_http_request_duration_seconds",
    "Time to answer an HTTP request (to the first byte of a streamed answer), by route",
    ["route"],
)
SWEEPER_ACTIONS = Counter(
    "pcf_sweeper_actions_total",
    "Things the sweeper did, by action (resent_stalled, resent_after_loss, settled, ...)",
    ["action"],
)

_scrape_collectors: list[Collector] = []


def register_scrape_collector(collector: Collector) -> None:
    """Add a collector that computes its samples when `/metrics` is scraped (an app's
    `ready()`; once per process)."""
    _scrape_collectors.append(collector)


class _ThisProcess:
    """Single-process mode: this process's own metrics (the default registry)."""

    def collect(self) -> Iterable[object]:
        return REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    """A registry for one scrape: every process's samples (multiprocess mode) or this
    process's, plus the scrape-time collectors."""
    registry = CollectorRegistry(auto_describe=False)
    path = metrics_process.directory()
    if path is not None:
        MultiProcessCollector(registry, path=str(path))
    else:
        registry.register(_ThisProcess())  # type: ignore[arg-type]
    for collector in _scrape_collectors:
        registry.register(collector)
    return registry
