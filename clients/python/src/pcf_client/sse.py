"""Server-Sent Events parsing (the WHATWG event-stream format), I/O free: feed it
lines, get events. Comment lines (the server's heartbeats) come out as `None` so a
reader can check its deadline while the job is quiet."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: str
    id: str | None
    retry_ms: int | None


class SseParser:
    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, line: str) -> SseEvent | None:
        """One line without its line ending; an event when a blank line ends one."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        if not self._data and not self._event:
            retry, self._retry = self._retry, None
            # A lone `retry:` block is still worth reporting (reconnection delay).
            return SseEvent("", "", self._id, retry) if retry is not None else None
        event = SseEvent(self._event or "message", "\n".join(self._data), self._id, self._retry)
        self._event, self._data, self._retry = "", [], None
        return event
