"""Long CSV records and cells (issue 11, item 2): a record over PCF_CSV_MAX_RECORD_BYTES
is a 400 at upload naming its line, nothing written; cells up to that size reach the
row checks on the workers (chunks run in-process, see tests/imports/helpers.run_chunks)."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from jobs.models import Job, JobError
from resources.models import Resource
from tests.imports.helpers import run_chunks, upload
from tests.resources.helpers import assert_error

# Transactional: the engine fails a job whose input breaks off only outside a caller's
# transaction (as a request is), which the default test transaction would hide.
pytestmark = [pytest.mark.django_db(transaction=True)]

BIG_CELL = "v" * (200 * 1024)  # over Python's csv field limit (128 KiB) by default


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_50_mb_line_is_a_400_naming_its_line(tenant: Any, gzipped: bool) -> None:
    # given a file whose second data row is one 50 MB line
    text = "name,type\nfirst,image\n" + "x" * (50 * 1024**2) + ",image\nlast,image\n"
    data = gzip.compress(text.encode(), compresslevel=1) if gzipped else text.encode()
    # when it is uploaded
    response = upload(tenant.api, data, {"mapping": {"name": "name", "type": "type"}})
    # then a 400 on `file` naming line 3 (not one 50 MB row), and nothing written
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"] == [
        {"field": "file", "message": "The record starting at line 3 is longer than 1048576 bytes"}
    ]
    assert not Resource.objects.exists()
    assert not Job.objects.exclude(status="failed").exists()


def test_everything_after_an_unclosed_quote_is_not_one_record(tenant: Any, settings: Any) -> None:
    # given a small chunk size (chunks are stored before the bad record) and a quote
    # that opens at row 3000 and never closes
    rows = "".join(f"r{i},image\n" for i in range(2999))
    text = "name,type\n" + rows + '"open,image\n' + "more,image\n" * 200_000
    # when it is uploaded
    response = upload(tenant.api, text, {"chunk_size": 500})
    # then a 400 naming the line where the runaway record starts; the job that was
    # filling is failed, no chunk of it will ever run
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "line 3001 " in error["details"][0]["message"]
    job = Job.objects.get()
    assert job.status == "failed"
    assert not job.chunks.exclude(payload_text=None).exists()
    assert not Resource.objects.exists()


def _import(tenant: Any, header: str, rows: list[str], validation: str) -> Job:
    text = header + "\n" + "\n".join(rows) + "\n"
    options = {"mapping": {"name": "name", "type": "type", "metadata": "metadata"}}
    response = upload(tenant.api, text, {**options, "validation": validation})
    assert response.status_code == 202, response.content
    return run_chunks(response.json()["job_id"])


@pytest.mark.parametrize("validation", ["strict", "lenient"])
def test_a_long_cell_in_an_unmapped_column_is_ignored(tenant: Any, validation: str) -> None:
    # given rows whose unmapped `notes` column holds a 200 KiB cell
    rows = [f"a,image,{{}},{BIG_CELL}", "b,video,{},short"]
    # when imported
    job = _import(tenant, "name,type,metadata,notes", rows, validation)
    # then every row is imported (the chunk no longer fails on csv's field limit)
    assert job.status == "completed", job.message
    assert sorted(Resource.objects.values_list("name", flat=True)) == ["a", "b"]


def test_a_long_value_in_a_mapped_field_is_that_rows_error(tenant: Any) -> None:
    # given a lenient import where one row's name and another's metadata are 200 KiB
    rows = [
        "ok1,image,{}",
        f"{BIG_CELL},image,{{}}",
        f'ok2,video,"{{""k"": ""{BIG_CELL}""}}"',
        "ok3,audio,{}",
    ]
    # when imported
    job = _import(tenant, "name,type,metadata", rows, "lenient")
    # then the two rows are skipped with their errors, the others imported
    assert job.status == "completed", job.message
    assert (job.successful, job.failed) == (2, 2)
    assert sorted(Resource.objects.values_list("name", flat=True)) == ["ok1", "ok3"]
    errors = {e.row: e for e in JobError.objects.filter(job=job)}
    assert errors[2].field == "name" and "255" in errors[2].message
    assert errors[3].field == "metadata" and "at most 65536" in errors[3].message
    # and an error keeps a readable prefix of the long cell, not all of it
    reported = errors[2].values["name"]
    assert reported.startswith("v" * 1024) and len(reported) < 1100


def test_a_long_value_fails_a_strict_import_without_writing(tenant: Any) -> None:
    # given a strict import with one 200 KiB name
    rows = ["ok1,image,{}", f"{BIG_CELL},image,{{}}"]
    # when imported
    job = _import(tenant, "name,type,metadata", rows, "strict")
    # then the job fails on that row's error and nothing is written
    assert job.status == "failed"
    assert JobError.objects.filter(job=job, row=2, field="name").exists()
    assert not Resource.objects.exists()


# --- chunks per job (issue 11, item 3) ---------------------------------------------------


def test_the_default_chunk_cap_is_100_000(settings: Any) -> None:
    assert settings.PCF_JOB_MAX_CHUNKS == 100_000


@pytest.mark.parametrize("strict", [True, False])
def test_a_csv_needing_more_chunks_than_the_cap_is_a_400(
    tenant: Any, settings: Any, strict: bool
) -> None:
    # given a cap of 5 chunks a job, and a file of 11 rows sent with chunk_size 2
    settings.PCF_JOB_MAX_CHUNKS = 5
    text = "name,type\n" + "".join(f"r{i},image\n" for i in range(11))
    options = {"chunk_size": 2, "validation": "strict" if strict else "lenient"}
    # when it is uploaded
    response = upload(tenant.api, text, options)
    # then a 400 on options.chunk_size; the job that was filling is failed, its stored
    # chunks dropped, nothing written
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "options.chunk_size"
    job = Job.objects.get()
    assert job.status == "failed"
    assert not job.chunks.exclude(payload_text=None).exists()
    assert not Resource.objects.exists()
    # and 10 rows (exactly 5 chunks) are accepted and imported
    accepted = upload(tenant.api, text.rsplit("r10,", 1)[0], options)
    assert accepted.status_code == 202, accepted.content
    assert run_chunks(accepted.json()["job_id"]).successful == 10


def test_a_bulk_import_needing_more_chunks_than_the_cap_is_a_400(
    tenant: Any, settings: Any
) -> None:
    # given a cap of 3 chunks and 7 items sent with chunk_size 2
    settings.PCF_JOB_MAX_CHUNKS = 3
    items = [{"name": f"n{i}", "type": "image"} for i in range(7)]
    # when posted
    response = tenant.api.post(
        "/v1/bulk/resources", {"resources": items, "options": {"chunk_size": 2}}, format="json"
    )
    # then a 400 on options.chunk_size and no job at all
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "options.chunk_size"
    assert not Job.objects.exists()
