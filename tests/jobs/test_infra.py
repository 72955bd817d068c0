"""Infrastructure failures are told apart from data and code errors, and a chunk whose
database session dies under it runs again instead of failing (jobs/engine/infra.py)."""

from __future__ import annotations

import socket

import psycopg
import pytest
import redis
from django.db import DataError, IntegrityError, OperationalError, connection, transaction

from jobs.engine import infra
from jobs.models import Chunk, ChunkStatus, JobError
from pcf.models import ApiClient
from pcf.redis import redis_client
from resources.models import Resource
from tests.jobs.handlers import release, written_key
from tests.jobs.helpers import make_job
from tests.polling import wait_for
from tests.waiting import wait_finished


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _error_of(statement: str) -> Exception:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    except Exception as exc:
        return exc
    raise AssertionError(f"{statement!r} did not fail")


@pytest.mark.django_db(transaction=True)
def test_a_terminated_session_is_an_infrastructure_error() -> None:
    # given our own session, terminated by the server (as a restart would)
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    # when it is used, then the error says "infrastructure", and pauses, not fails
    error = _error_of("SELECT 1")
    assert isinstance(error, OperationalError)
    assert infra.is_infrastructure_error(error)
    connection.close()


def test_an_unreachable_server_is_an_infrastructure_error() -> None:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(host="127.0.0.1", port=_closed_port(), connect_timeout=2)
    assert infra.is_infrastructure_error(caught.value)
    with pytest.raises(redis.ConnectionError) as lost:
        redis.Redis(port=_closed_port(), socket_connect_timeout=2).ping()
    assert infra.is_infrastructure_error(lost.value)


@pytest.mark.django_db
def test_data_errors_and_timeouts_are_not_infrastructure_errors() -> None:
    ApiClient.objects.create(name="x", token_hash="h" * 64, token_hint="x")
    duplicate = _error_of(
        "INSERT INTO pcf_apiclient (name, token_hash, token_hint, webhook_secret, is_active,"
        " created_at) VALUES ('y', '" + "h" * 64 + "', 'y', 's', true, now())"
    )
    assert isinstance(duplicate, IntegrityError) and not infra.is_infrastructure_error(duplicate)
    bad = _error_of("SELECT '{'::jsonb")
    assert isinstance(bad, DataError) and not infra.is_infrastructure_error(bad)
    # a statement that runs too long keeps failing if run again: not a pause
    slow = _error_of("SET LOCAL statement_timeout = 10; SELECT pg_sleep(1)")
    assert isinstance(slow, OperationalError) and not infra.is_infrastructure_error(slow)
    assert not infra.is_infrastructure_error(KeyError("x"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_chunk_whose_session_dies_mid_chunk_runs_again_and_never_fails(
    tenant, celery_worker
) -> None:
    # given a chunk that writes its rows, then waits (for the test) before committing
    celery_worker.kill9()
    celery_worker.start(concurrency=1)
    job = make_job(tenant.client_model, [{"names": ["a", "b", "c"], "hold": True}])
    wait_for(lambda: redis_client().get(written_key(job.id, 0)), timeout=30)
    # when the server terminates the worker's session in the middle of it
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND state = 'idle in transaction'"
            " AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] == 1
    release(job.id, 0)
    # then the worker waits for the database, runs the chunk again and it completes once
    job = wait_finished(job, timeout=60)
    assert (job.status, job.successful, job.failed) == ("completed", 3, 0)
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 3
    chunk = Chunk.objects.get(job=job)
    assert (chunk.status, chunk.attempts) == (ChunkStatus.DONE, 1)
    assert not JobError.objects.filter(job=job).exists()
