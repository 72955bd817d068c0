"""The response budget: how much one answer may still hold, in bytes of uncompressed
JSON (and, for batches, rows of GET results).

A budget must stop work before it is built: a batch whose answer would have been 16 GB
grew a web process to 15 GB RSS, and CPython kept 8.7 GB of it after the request. So
readers charge each row as they load it and stop at the first one past the budget,
and writers check the budget before they run. Shared by the threads of a parallel
batch, hence the lock."""

from __future__ import annotations

import json
import threading
from typing import Any

from django.conf import settings

from pcf.exceptions import ResponseTooLarge


def json_size(value: Any) -> int:
    """Bytes of `value` as the API renders it (compact UTF-8 JSON, like DRF's)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class ResponseBudget:
    def __init__(self, *, max_bytes: int | None = None, max_rows: int | None = None) -> None:
        self.max_bytes = int(settings.PCF_RESPONSE_MAX_BYTES) if max_bytes is None else max_bytes
        self.max_rows = max_rows
        self.bytes = 0
        self.rows = 0
        self._lock = threading.Lock()

    @property
    def exhausted(self) -> bool:
        return self.bytes >= self.max_bytes

    def charge(self, nbytes: int, *, rows: int = 0) -> None:
        """Take `nbytes` (and `rows`) from the budget, or raise ResponseTooLarge and take
        nothing."""
        with self._lock:
            if self.max_rows is not None and self.rows + rows > self.max_rows:
                raise ResponseTooLarge(
                    f"The GET operations of this batch may answer {self.max_rows} rows in "
                    "all (PCF_BATCH_MAX_GET_ROWS); this one would pass it"
                )
            if self.bytes + nbytes > self.max_bytes:
                raise ResponseTooLarge(
                    f"This result would take the answer past {self.max_bytes} bytes "
                    "(PCF_RESPONSE_MAX_BYTES)"
                )
            self.bytes += nbytes
            self.rows += rows

    def spend(self, nbytes: int) -> None:
        """Take `nbytes` of work already done (a write's echo), even past the budget."""
        with self._lock:
            self.bytes += nbytes

    def refund(self, nbytes: int, *, rows: int = 0) -> None:
        with self._lock:
            self.bytes -= nbytes
            self.rows -= rows

    def check_open(self) -> None:
        """Raise ResponseTooLarge when nothing more may be added (before a write runs)."""
        if self.exhausted:
            raise ResponseTooLarge(
                f"The answer has reached {self.max_bytes} bytes (PCF_RESPONSE_MAX_BYTES); "
                "this operation was not run"
            )
