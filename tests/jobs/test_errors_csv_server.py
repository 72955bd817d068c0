"""The errors CSV of a job with a million error rows, downloaded from a real uvicorn
process: streamed with flat web memory (issue 11, item 10)."""

from __future__ import annotations

import threading

import httpx
import pytest
from django.db import connection

from jobs.models import JobError
from tests.jobs.helpers import make_job
from tests.live_server import live_server

pytestmark = [pytest.mark.django_db(transaction=True)]

ROWS = 1_000_000
RSS_LIMIT_MB = 200


def test_a_million_error_rows_stream_with_flat_memory(tenant) -> None:
    # given a job with a million error rows (inserted by PostgreSQL itself)
    job = make_job(tenant.client_model, [], start=False)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {JobError._meta.db_table} (job_id, row, field, code, message, values)
            SELECT %s, n, 'name', 'VALIDATION_ERROR',
                   'Name must be at most 255 characters (row ' || n || ')',
                   jsonb_build_object('name', repeat('x', 100), 'type', 'image')
            FROM generate_series(1, %s) AS n""",
            [job.id, ROWS],
        )
    with live_server() as server:
        peak = [server.rss_mb()]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak.append(server.rss_mb())

        sampler = threading.Thread(target=sample)
        sampler.start()
        # when the tenant downloads them as CSV
        lines = 0
        try:
            with httpx.stream(
                "GET",
                f"{server.base}/v1/jobs/{job.id}/errors?format=csv",
                headers=tenant.auth_header,
                timeout=600,
            ) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/csv")
                for data in response.iter_bytes():
                    lines += data.count(b"\n")
        finally:
            done.set()
            sampler.join()
    # then every row arrives (plus the header) and the web process stayed small
    assert lines == ROWS + 1
    assert max(peak) < RSS_LIMIT_MB, f"peak RSS {max(peak):.0f} MB"
