"""Progress display for the CLI: a rich progress bar on a terminal, plain timestamped
lines otherwise (logs, CI, pipes). Both redraw at least once a second whether or not
an event came in, so a quiet phase (the strict check pass, a long chunk) still shows
time passing; rows/s and the ETA come from the last few seconds of events."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import IO, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from pcf_client.models import ProgressEvent

RATE_WINDOW_SECONDS = 5.0
TICK_SECONDS = 1.0


class RateMeter:
    """Rows per second over the last RATE_WINDOW_SECONDS of samples."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, processed: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._samples.append((now, processed))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW_SECONDS:
            self._samples.popleft()

    def rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, p0), (t1, p1) = self._samples[0], self._samples[-1]
        return (p1 - p0) / (t1 - t0) if t1 > t0 else None


def eta_text(rate: float | None, remaining: int) -> str:
    if remaining <= 0:
        return "0:00:00"
    if not rate or rate <= 0:
        return "-:--:--"
    seconds = int(remaining / rate)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressView(Protocol):
    def upload(self, sent: int, total: int | None) -> None: ...
    def job(self, job_id: str, total: int) -> None: ...
    def update(self, event: ProgressEvent) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def close(self) -> None: ...


class _State:
    """What both views show, updated from the caller's thread, read by the ticker."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.sent = 0
        self.size: int | None = None
        self.job_id: str | None = None
        self.total = 0
        self.processed = 0
        self.failed = 0
        self.status = "uploading"
        self.meter = RateMeter()

    def apply(self, event: ProgressEvent) -> None:
        with self.lock:
            self.total = event.total or self.total
            self.processed = event.processed
            self.failed = event.failed
            self.status = event.status
            self.meter.add(event.processed)


class PlainProgress:
    """One line a second on `stream` (stderr), e.g.
    `[  4.0s] job_… processing 340,000/1,000,000 rows 34.0% 85,000 rows/s ETA 0:00:07 failed 0`."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.state = _State()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._thread.start()

    def upload(self, sent: int, total: int | None) -> None:
        with self.state.lock:
            self.state.sent, self.state.size = sent, total

    def job(self, job_id: str, total: int) -> None:
        with self.state.lock:
            self.state.job_id, self.state.total, self.state.status = job_id, total, "queued"
        self._line()

    def update(self, event: ProgressEvent) -> None:
        self.state.apply(event)

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        if self.state.job_id is not None:
            self._line()  # the final counts, even if the last tick came before them

    def _tick(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            if not self._paused.is_set():
                self._line()

    def _line(self) -> None:
        s = self.state
        with s.lock:
            elapsed = time.monotonic() - s.started
            if s.job_id is None:
                size = f"{s.size / 1e6:,.1f}" if s.size else "?"
                rate = s.sent / elapsed / 1e6 if elapsed > 0 else 0.0
                text = f"uploading {s.sent / 1e6:,.1f}/{size} MB ({rate:,.1f} MB/s)"
            else:
                rate_value = s.meter.rate()
                pct = 100.0 * s.processed / s.total if s.total else 0.0
                eta = eta_text(rate_value, s.total - s.processed)
                text = (
                    f"{s.job_id} {s.status} {s.processed:,}/{s.total:,} rows {pct:.1f}% "
                    f"{rate_value or 0:,.0f} rows/s ETA {eta} failed {s.failed:,}"
                )
        self.stream.write(f"[{elapsed:6.1f}s] {text}\n")
        self.stream.flush()


class RichProgress:
    """A rich progress bar on stderr: bytes while uploading, then rows."""

    def __init__(self, console: Console) -> None:
        self.state = _State()
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[counts]}"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA {task.fields[eta]}"),
            TextColumn("{task.fields[failed]}"),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=4,
        )
        self._upload: TaskID | None = None
        self._job: TaskID | None = None
        self.progress.start()

    def upload(self, sent: int, total: int | None) -> None:
        if self._upload is None:
            self._upload = self.progress.add_task(
                "upload", total=total, counts="", rate="", eta="", failed=""
            )
        rate = sent / max(1e-6, time.monotonic() - self.state.started)
        self.progress.update(
            self._upload, completed=sent, counts=f"{sent / 1e6:,.1f} MB",
            rate=f"{rate / 1e6:,.1f} MB/s",
            eta=eta_text(rate, (total or 0) - sent),
        )  # fmt: skip

    def job(self, job_id: str, total: int) -> None:
        if self._upload is not None:
            task = self.progress.tasks[self._upload]
            self.progress.update(self._upload, completed=task.total or task.completed)
        self._job = self.progress.add_task(
            job_id, total=total or None, counts="", rate="", eta="", failed=""
        )

    def update(self, event: ProgressEvent) -> None:
        self.state.apply(event)
        if self._job is None:
            return
        rate = self.state.meter.rate()
        self.progress.update(
            self._job,
            completed=event.processed,
            total=event.total or None,
            counts=f"{event.processed:,}/{event.total:,} rows",
            rate=f"{rate or 0:,.0f} rows/s",
            eta=eta_text(rate, event.total - event.processed),
            failed=f"failed {event.failed:,}",
        )

    def pause(self) -> None:
        self.progress.stop()

    def resume(self) -> None:
        self.progress.start()

    def close(self) -> None:
        self.progress.stop()


class NoProgress:
    """`--json` and `--quiet`: nothing on the terminal."""

    def upload(self, sent: int, total: int | None) -> None:
        pass

    def job(self, job_id: str, total: int) -> None:
        pass

    def update(self, event: ProgressEvent) -> None:
        pass

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def close(self) -> None:
        pass


def make_view(console: Console, *, enabled: bool) -> ProgressView:
    if not enabled:
        return NoProgress()
    if console.is_terminal:
        return RichProgress(console)
    return PlainProgress(console.file)
