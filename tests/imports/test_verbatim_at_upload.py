"""CSV chunks that can go verbatim are marked so while they are uploaded
(imports.handlers.verbatim_at_upload). A strict import's, proved by the exact
expression, are stored checked with the check pass's memo and need no check message;
the others still go through the check pass, whose verdict is final for the whole job.
A lenient import's carry the same memo from the apply pass's own test."""

from __future__ import annotations

from typing import Any

import pytest

from imports.verbatim import VERBATIM_ROWS
from jobs.models import Chunk, Dispatch, DispatchKind, Job
from resources.models import Resource
from tests.imports.helpers import COOKBOOK_OPTIONS, run_chunks, upload

pytestmark = pytest.mark.django_db

HEADER = "name,type,status,metadata\n"
OPTIONS = {**COOKBOOK_OPTIONS, "chunk_size": 3}


def _row(i: int, kind: str = "document") -> str:
    return f'Row {i},{kind},active,"{{""n"":{i}}}"\n'


def _stored(job_id: str) -> list[tuple[bool, Any]]:
    return list(
        Chunk.objects.filter(job_id=job_id).order_by("seq").values_list("checked", "payload")
    )


def test_chunks_the_expression_proves_are_stored_checked(tenant: Any) -> None:
    # when: a strict import of 7 clean rows, in chunks of 3
    response = upload(tenant.api, HEADER + "".join(_row(i) for i in range(7)), OPTIONS)
    assert response.status_code == 202, response.json()
    job_id = response.json()["job_id"]
    # then: every chunk is checked already, with its row count to COPY, and no check
    # message was ever made
    assert _stored(job_id) == [
        (True, {VERBATIM_ROWS: 3}),
        (True, {VERBATIM_ROWS: 3}),
        (True, {VERBATIM_ROWS: 1}),
    ]
    assert Job.objects.get(pk=job_id).chunks_unchecked == 0
    assert not Dispatch.objects.filter(job_id=job_id, kind=DispatchKind.CHECK).exists()
    job = run_chunks(job_id)
    assert (job.status, job.successful) == ("completed", 7)
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 7


def test_a_chunk_it_cannot_prove_still_fails_the_whole_job(tenant: Any) -> None:
    # given: row 5 (second chunk) has a type the rules refuse
    rows = [_row(i) if i != 4 else _row(i, "imag") for i in range(7)]
    response = upload(tenant.api, HEADER + "".join(rows), OPTIONS)
    job_id = response.json()["job_id"]
    # then: the first and last chunks were proved at upload, the second was left to
    # the check pass, which fails the job: nothing is written
    assert [checked for checked, _ in _stored(job_id)] == [True, False, True]
    job = run_chunks(job_id)
    assert job.status == "failed"
    assert "1 of 7 rows are invalid" in job.message
    assert job.errors.get().row == 5
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 0


def test_lenient_chunks_carry_the_memo_and_postgresql_still_checks_the_json(
    tenant: Any,
) -> None:
    # given: row 2 has a trailing comma in its JSON: the apply pass's test lets it
    # through (PostgreSQL refuses it), row 4 has a type the test refuses
    rows = [
        _row(0),
        'Row 1,document,active,"{""n"":1,}"\n',
        _row(2),
        _row(3, "imag"),
    ]
    options = {**OPTIONS, "validation": "lenient", "chunk_size": 2}
    response = upload(tenant.api, HEADER + "".join(rows), options)
    job_id = response.json()["job_id"]
    assert _stored(job_id) == [(True, {VERBATIM_ROWS: 2}), (True, None)]
    # when/then: the first chunk's COPY is refused, and it goes row by row
    job = run_chunks(job_id)
    assert (job.status, job.successful, job.failed) == ("completed", 2, 2)
    assert sorted(row or 0 for row in job.errors.values_list("row", flat=True)) == [2, 4]
    names = set(Resource.objects.filter(tenant=tenant.client_model).values_list("name", flat=True))
    assert names == {"Row 0", "Row 2"}
