"""The engine's backlog as Prometheus gauges, read from PostgreSQL when `/metrics` is
scraped (PostgreSQL is the queue of record; no process keeps these numbers):

- `pcf_chunks_ready{queue}`: chunks waiting to run: ready in PostgreSQL for a window
  slot, or in a window message the broker holds that no worker started yet;
- `pcf_chunks_running{queue}`: chunks of window messages a worker has started;
- `pcf_oldest_ready_chunk_age_seconds`: how long the oldest ready chunk has waited
  (0 when none): the autoscaling signal. Rising means the workers fall behind.

Cheap at any backlog: the ready chunks are found through the partial indexes
chunk_ready_apply / chunk_ready_check of active jobs (the job_active index), and the
messages in flight are the window (a few rows per worker process)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import connection
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from jobs.engine.dispatch import QUEUE

logger = logging.getLogger("pcf.jobs.metrics")

# Ready means what the dispatcher may send (jobs.engine.dispatch._READY_SQL): a check of
# a staged chunk, or applying one once its job is sealed and its check pass passed. The
# count comes from each active job's counters (no chunk row is read: a backlog of 200,000
# ready chunks took 75 ms to count row by row), and includes the chunks in flight, which
# _IN_FLIGHT_SQL then splits off. The oldest wait is each job's first ready chunk by seq
# (one probe of chunk_ready_check / chunk_ready_apply per active job): chunks are stored
# in seq order, so it is the job's oldest, unless a re-run put lower chunks back later.
# Chunk.ready_at is when the chunk was stored, or put back by a re-run.
_READY_SQL = """
SELECT
    coalesce(sum(
        j.chunks_unchecked
        + CASE WHEN j.sealed AND j.chunks_unchecked = 0 AND j.check_failed = 0
               THEN j.chunks_total - j.chunks_finished ELSE 0 END
    ), 0),
    min(least(
        (SELECT c.ready_at FROM jobs_chunk c
         WHERE c.job_id = j.id AND c.status = 'pending' AND c.dispatch_id IS NULL
           AND NOT c.checked
         ORDER BY c.seq LIMIT 1),
        CASE WHEN j.sealed AND j.chunks_unchecked = 0 AND j.check_failed = 0 THEN
            (SELECT c.ready_at FROM jobs_chunk c
             WHERE c.job_id = j.id AND c.status = 'pending' AND c.dispatch_id IS NULL
               AND c.checked
             ORDER BY c.seq LIMIT 1)
        END
    ))
FROM jobs_job j
WHERE j.status IN ('queued', 'processing')
"""

_IN_FLIGHT_SQL = """
SELECT d.queue, d.started_at IS NOT NULL, count(c.id), min(c.ready_at)
FROM jobs_dispatch d
JOIN jobs_chunk c ON c.dispatch_id = d.id AND c.status = 'pending'
GROUP BY 1, 2
"""


class BacklogCollector:
    """Computes the backlog gauges at each scrape (registered by jobs.apps)."""

    def collect(self) -> Iterator[Metric]:
        try:
            ready, running, oldest = self._read()
        except Exception:
            # No samples rather than wrong ones: an alert on absent() notices.
            logger.warning("could not read the backlog for /metrics", exc_info=True)
            return
        ready_family = GaugeMetricFamily(
            "pcf_chunks_ready", "Chunks waiting to run, per queue", labels=["queue"]
        )
        running_family = GaugeMetricFamily(
            "pcf_chunks_running", "Chunks a worker is running, per queue", labels=["queue"]
        )
        for queue in sorted({QUEUE, *ready, *running}):
            ready_family.add_metric([queue], ready.get(queue, 0))
            running_family.add_metric([queue], running.get(queue, 0))
        yield ready_family
        yield running_family
        yield GaugeMetricFamily(
            "pcf_oldest_ready_chunk_age_seconds",
            "Seconds the oldest ready chunk has waited to run (0: nothing waits)",
            value=oldest,
        )

    def _read(self) -> tuple[dict[str, int], dict[str, int], float]:
        ready: dict[str, int] = {}
        running: dict[str, int] = {}
        with connection.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            now = cursor.fetchone()[0]
            cursor.execute(_READY_SQL)
            pending, oldest_at = cursor.fetchone()
            waits = [now - oldest_at] if oldest_at is not None else []
            cursor.execute(_IN_FLIGHT_SQL)
            in_flight = cursor.fetchall()
        # The jobs' counters include every chunk in flight; started ones are running.
        ready[QUEUE] = int(pending)
        for queue, started, chunks, ready_at in in_flight:
            if started:
                running[queue] = running.get(queue, 0) + int(chunks)
                ready[QUEUE] -= int(chunks)
            elif queue != QUEUE:
                ready[QUEUE] -= int(chunks)
                ready[queue] = ready.get(queue, 0) + int(chunks)
            if not started and ready_at is not None:
                waits.append(now - ready_at)
        ready[QUEUE] = max(ready[QUEUE], 0)
        oldest = max((w.total_seconds() for w in waits), default=0.0)
        return ready, running, max(oldest, 0.0)
