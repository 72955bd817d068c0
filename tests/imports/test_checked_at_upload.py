"""A strict import's chunks that the whole-chunk expression proves are checked while
they are uploaded (imports.handlers.checked_at_upload): stored checked with the check
pass's memo, they need no check message; the others still go through the check pass,
whose verdict is final for the whole job."""

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


def test_lenient_imports_are_not_checked_at_upload(tenant: Any) -> None:
    options = {**OPTIONS, "validation": "lenient"}
    response = upload(tenant.api, HEADER + "".join(_row(i) for i in range(4)), options)
    assert _stored(response.json()["job_id"]) == [(True, None), (True, None)]
