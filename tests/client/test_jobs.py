"""Jobs through the client, run by real Celery workers: streamed gzip uploads, SSE
progress (and its resume after a real connection drop), errors, bulk splits."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from pcf_client import PcfClient
from pcf_client.errors import PayloadTooLarge

from resources.models import Resource
from tests.client.live import (  # noqa: F401
    LiveServer,
    Relay,
    StartServer,
    pcf_server,
    relay,
    start_server,
    token,
)
from tests.worker_fixtures import Workers

pytestmark = pytest.mark.slow


def write_csv(path: Path, rows: int, bad_every: int = 0) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "Type", "Meta"])
        for i in range(rows):
            kind = "spreadsheet" if bad_every and i % bad_every == bad_every - 1 else "document"
            writer.writerow([f"item, {i}", kind, f'{{"n": {i}}}'])
    return path


MAPPING = {"name": "Name", "type": "Type", "metadata": {"type": "json", "field": "Meta"}}


def test_lenient_import_reports_its_failed_rows(
    pcf_server: LiveServer, token: str, celery_worker: Workers, tmp_path: Path
) -> None:
    # given a CSV of 3,000 rows, every 1,000th invalid
    source = write_csv(tmp_path / "data.csv", 3000, bad_every=1000)
    with PcfClient(pcf_server.url, token) as client:
        # when it is imported leniently from an open file and waited for
        with source.open("rb") as handle:
            job = client.import_csv(handle, mapping=MAPPING, validation="lenient", chunk_size=500)
        final = job.wait(timeout=120)
        errors = list(job.errors(page_size=2))
        target = tmp_path / "errors.csv"
        job.errors_csv(target)
    # then the valid rows are stored and the 3 invalid ones are listed, with row numbers
    assert job.accepted["total_rows"] == 3000
    assert final.status == "completed"
    assert (final.progress.successful, final.progress.failed) == (2997, 3)
    assert Resource.objects.count() == 2997
    assert [(e.row, e.field, e.code) for e in errors] == [
        (1000, "type", "VALIDATION_ERROR"),
        (2000, "type", "VALIDATION_ERROR"),
        (3000, "type", "VALIDATION_ERROR"),
    ]
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["row"] for r in rows] == ["1000", "2000", "3000"]


def test_a_dropped_progress_stream_resumes_from_last_event_id(
    relay: Relay, pcf_server: LiveServer, token: str, celery_worker: Workers, tmp_path: Path
) -> None:
    # given an import of 300 small chunks, followed through a relay we can cut
    source = write_csv(tmp_path / "data.csv", 30_000)
    with PcfClient(pcf_server.url, token) as direct, PcfClient(relay.url, token) as proxied:
        job = direct.import_csv(source, mapping=MAPPING, chunk_size=100, validation="lenient")
        events = []
        cut_after: str | None = None
        # when the connection is dropped right after the first progress event
        for event in proxied.job(job.id).watch(timeout=180):
            events.append(event)
            if cut_after is None and event.kind == "progress":
                cut_after = event.event_id
                assert relay.cut() >= 1
    # then the client reconnected with Last-Event-ID and saw each step once, to the end
    assert cut_after is not None
    progress_requests = [r for r in relay.requests if b"/progress" in r]
    assert len(progress_requests) >= 2
    # (events already in the client's buffer at the cut still count as received)
    resumed = re.search(rb"(?i)last-event-id: *(\d+)", progress_requests[1])
    assert resumed is not None and int(resumed.group(1)) >= int(cut_after)
    ids = [int(e.event_id) for e in events if e.kind == "progress" and e.event_id]
    assert int(resumed.group(1)) in ids
    assert ids == sorted(set(ids))  # nothing seen twice
    assert events[-1].kind == "complete" and events[-1].processed == 30_000
    assert Resource.objects.count() == 30_000


def test_watch_falls_back_to_polling_when_streams_fail(
    pcf_server: LiveServer, token: str, celery_worker: Workers, tmp_path: Path
) -> None:
    # given a job
    source = write_csv(tmp_path / "data.csv", 2000)
    with PcfClient(pcf_server.url, token) as client:
        job = client.import_csv(source, mapping=MAPPING, chunk_size=200)
        # when it watches with SSE off (as after MAX_STREAM_FAILURES failed streams)
        events = list(job.watch(timeout=120, sse=False, poll_interval=0.2))
    # then polling still ends with the final event carrying the job
    assert events[-1].final and events[-1].job is not None
    assert events[-1].job.status == "completed" and events[-1].processed == 2000


def test_bulk_import_splits_and_reports_indexes_in_the_whole_list(
    pcf_server: LiveServer, token: str, celery_worker: Workers
) -> None:
    # given 25 records, the 18th invalid, sent 10 to a request
    records = [{"name": f"n{i}", "type": "image"} for i in range(25)]
    records[17]["type"] = "hologram"
    with PcfClient(pcf_server.url, token) as client:
        group = client.bulk_import(records, per_request=10)
        states = group.wait(timeout=120)
        errors = list(group.errors())
    # then three jobs ran, and the failure names its index in the caller's list
    assert len(group.jobs) == 3 and [s.status for s in states] == ["completed"] * 3
    assert [(e.index, e.field) for e in errors] == [(17, "type")]
    assert Resource.objects.count() == 24


def test_batches_shrink_after_a_real_413(start_server: StartServer, token: str) -> None:
    # given a server that takes at most 40 operations a batch
    server = start_server(env={"PCF_BATCH_MAX_OPERATIONS": "40"})
    ops: list[dict[str, Any]] = [
        {"method": "POST", "path": "/resources", "body": {"name": f"s{i}", "type": "audio"}}
        for i in range(150)
    ]
    ops[70]["body"] = {"name": "bad"}  # no type: that operation's own 400
    # when the client starts with batches of 100
    with PcfClient(server.url, token) as client:
        report = client.batch(ops, batch_size=100, concurrency=2)
    # then everything ran once, in order, and only the broken operation failed
    assert [r.id for r in report.results] == [f"op{i + 1}" for i in range(150)]
    assert [r.id for r in report.failed] == ["op71"]
    assert report.failed[0].code == "VALIDATION_ERROR"
    assert Resource.objects.count() == 149
    # and a single request that is too large is the caller's typed error
    with PcfClient(server.url, token) as client, pytest.raises(PayloadTooLarge) as too_large:
        client.send_batch(ops[:41])
    assert too_large.value.code == "BATCH_TOO_LARGE"
