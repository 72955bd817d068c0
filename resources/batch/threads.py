"""Worker threads for `parallel` batches, bounded per web process.

Each worker thread holds a database connection of its own, taken from the process's
pool (PCF_DB_POOL_MAX). Without a process-wide bound, two batches with `parallel: 16`
took every connection of a 20-connection pool and other tenants' requests waited for
the pool's timeout, then failed. Slots are taken without waiting: a batch gets what is
free (at most its `parallel`), and with fewer than two it runs in its request's thread,
on the connection that request already holds."""

from __future__ import annotations

import threading

from django.conf import settings


class ThreadSlots:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used = 0

    @property
    def used(self) -> int:
        return self._used

    def take(self, wanted: int) -> int:
        """Reserve up to `wanted` slots now; returns how many (0 or at least 2)."""
        with self._lock:
            free = int(settings.PCF_BATCH_THREADS_MAX) - self._used
            granted = min(wanted, free)
            if granted < 2:  # one worker beside an idle request thread gains nothing
                return 0
            self._used += granted
            return granted

    def give_back(self, count: int) -> None:
        with self._lock:
            self._used -= count


# One per process: the pool it protects is per process too.
batch_threads = ThreadSlots()
