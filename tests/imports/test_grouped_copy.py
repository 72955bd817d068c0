"""A window message of clean CSV chunks goes to PostgreSQL in one COPY, each chunk still
done, counted and all-or-nothing on its own terms (imports.handlers.import_csv_chunks)."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.engine import dispatch
from jobs.models import Chunk, Dispatch, Job
from jobs.tasks import run_dispatch
from resources.models import Resource
from tests.imports.helpers import upload

pytestmark = pytest.mark.django_db

HEADER = "name,type,status,metadata\n"
OPTIONS = {
    "mapping": {
        "name": "name",
        "type": "type",
        "status": "status",
        "metadata": {"type": "json", "field": "metadata"},
    },
    "validation": "lenient",
    "chunk_size": 4,
}


@pytest.fixture(autouse=True)
def _one_message(settings: Any) -> None:
    settings.PCF_DISPATCH_WINDOW = 1
    settings.PCF_DISPATCH_GROUP_CHUNKS = 10
    dispatch._window_cache.clear()


def _row(i: int, meta: str = '"{""n"":%d}"') -> str:
    return f"Row {i},document,active,{meta % i if '%d' in meta else meta}\n"


def _run(api: Any, body: str) -> tuple[Job, str]:
    response = upload(api, body, OPTIONS)
    assert response.status_code == 202, response.json()
    job = Job.objects.get(pk=response.json()["job_id"])
    dispatch.refill()
    message = Dispatch.objects.get(job=job)
    outcome = run_dispatch.apply(args=(message.pk,), task_id=message.task_id).get()
    job.refresh_from_db()
    return job, outcome


def test_clean_chunks_go_together_in_one_copy(tenant) -> None:
    job, outcome = _run(tenant.api, HEADER + "".join(_row(i) for i in range(10)))
    assert outcome == "done together: 3 chunks, 10 ok"
    assert (job.status, job.successful, job.chunks_finished) == ("completed", 10, 3)
    counts = list(
        Chunk.objects.filter(job=job).order_by("seq").values_list("successful", flat=True)
    )
    assert counts == [4, 4, 2]
    names = set(Resource.objects.filter(tenant=tenant.client_model).values_list("name", flat=True))
    assert names == {f"Row {i}" for i in range(10)}


@pytest.mark.parametrize(
    "bad",
    [
        '"{""a"":}"',  # refused before COPY (no value)
        '"{""a"":1,}"',  # refused by COPY: the apply pass leaves JSON syntax to PostgreSQL
        '"{""a"":[1}]"',  # refused by COPY: brackets of the wrong kind
    ],
)
def test_one_bad_json_sends_the_message_one_chunk_at_a_time(tenant, bad: str) -> None:
    # given: row 6 (in the second chunk) has JSON PostgreSQL refuses
    rows = [_row(i) if i != 5 else _row(i, bad) for i in range(10)]
    job, outcome = _run(tenant.api, HEADER + "".join(rows))
    # then: the shared COPY was rolled back; each chunk went on its own, the bad row alone
    assert "together" not in outcome
    assert (job.status, job.successful, job.failed) == ("completed", 9, 1)
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 9
    assert job.errors.get().row == 6
