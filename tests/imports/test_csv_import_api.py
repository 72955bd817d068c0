"""POST /v1/import/resources: the cookbook example, every option and every bad input.
Chunks run through the engine's chunk runner in-process (see tests/imports/helpers.run_chunks)."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from django.test import override_settings

from jobs.models import Chunk, Job, JobError
from resources.models import Resource
from tests.imports.helpers import COOKBOOK_CSV, COOKBOOK_OPTIONS, run_chunks, upload

pytestmark = pytest.mark.django_db


def names(tenant: Any) -> list[str]:
    return sorted(
        Resource.objects.filter(tenant=tenant.client_model).values_list("name", flat=True)
    )


def test_cookbook_csv_example_byte_for_byte(tenant: Any) -> None:
    # given: the cookbook's CSV (leading newline included) and options, file part first
    # when
    response = upload(tenant.api, COOKBOOK_CSV, COOKBOOK_OPTIONS)
    # then: the cookbook's answer shape
    assert response.status_code == 202, response.json()
    body = response.json()
    assert set(body) == {"job_id", "status", "total_rows", "processed"}
    assert body["total_rows"] == 3 and body["processed"] == 0
    assert body["status"] in {"queued", "processing"}
    job = run_chunks(body["job_id"])
    assert job.status == "completed" and job.successful == 3 and job.failed == 0
    rows = {
        r.name: (r.type, r.status, r.metadata)
        for r in Resource.objects.filter(tenant=tenant.client_model)
    }
    assert rows == {
        "Resource 1": ("document", "active", {"key1": "value1"}),
        "Resource 2": ("image", "active", {"key2": "value2"}),
        "Resource 3": ("video", "draft", {"key3": "value3"}),
    }
    assert all(r.public_id.startswith("res_") for r in Resource.objects.all())


def test_options_before_file_and_raw_csv_body_and_query_options(tenant: Any) -> None:
    # given: a raw text/csv body with options in the query string
    csv_text = "name,type\nA,document\nB,image\n"
    # when
    response = tenant.api.post(
        "/v1/import/resources?validation=lenient&chunk_size=1",
        data=csv_text.encode(),
        content_type="text/csv",
    )
    # then
    assert response.status_code == 202, response.json()
    assert response.json()["total_rows"] == 2
    assert Chunk.objects.filter(job_id=response.json()["job_id"]).count() == 2
    run_chunks(response.json()["job_id"])
    assert names(tenant) == ["A", "B"]
    # when: ?options=<json> works too
    options = json.dumps({"mapping": {"name": "n", "type": "t"}})
    response = tenant.api.post(
        f"/v1/import/resources?options={options}", data=b"n,t\nC,video\n", content_type="text/csv"
    )
    assert response.status_code == 202, response.json()
    run_chunks(response.json()["job_id"])
    assert names(tenant) == ["A", "B", "C"]


def test_gzip_file_part_and_gzip_request_body(tenant: Any) -> None:
    # given: a gzipped file part (detected by its magic bytes)
    packed = gzip.compress(b"name,type\nZ1,document\n")
    # when
    response = upload(tenant.api, packed, {"validation": "lenient"})
    # then
    assert response.status_code == 202, response.json()
    run_chunks(response.json()["job_id"])
    # given/when: a Content-Encoding: gzip raw body
    response = tenant.api.post(
        "/v1/import/resources?validation=strict",
        data=gzip.compress(b"name,type\nZ2,image\n"),
        content_type="text/csv",
        HTTP_CONTENT_ENCODING="gzip",
    )
    assert response.status_code == 202, response.json()
    run_chunks(response.json()["job_id"])
    assert names(tenant) == ["Z1", "Z2"]


def test_real_world_csv_bom_crlf_quotes_newlines_blank_lines(tenant: Any) -> None:
    # given: BOM, CRLF, a quoted comma, a doubled quote, a quoted newline, blank lines
    content = (
        "\ufeff\r\n\r\nname,type,metadata\r\n"
        '"Smith, John",document,"{""a"": ""x,y""}"\r\n'
        "\r\n"
        '"He said ""hi""",image,\r\n'
        '"two\r\nlines",video,"{}"\r\n'
        "\r\n\r\n"
    ).encode()
    # when
    response = upload(tenant.api, content, {"validation": "strict"})
    # then
    assert response.status_code == 202, response.json()
    assert response.json()["total_rows"] == 3
    run_chunks(response.json()["job_id"])
    stored = {r.name: r.metadata for r in Resource.objects.filter(tenant=tenant.client_model)}
    assert stored == {"Smith, John": {"a": "x,y"}, 'He said "hi"': {}, "two\r\nlines": {}}


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        (b"", None, "The file is empty"),
        (b"\n\n  \n", None, "The file is empty"),
        (b"name,type\n", None, "The file has a header but no data rows"),
        (b"name,type\n\n\n", None, "The file has a header but no data rows"),
        (b"name,kind\nA,document\n", None, "Column 'type' is not in the header"),
        (
            b"n,t\nA,document\n",
            {"mapping": {"name": "n", "type": "x"}},
            "Column 'x' is not in the header",
        ),
        (b"name,type\nA,\xff\xfe\n", None, "Invalid UTF-8 at byte 12"),
        (b"name,type\nA\x00B,document\n", None, "NUL byte at byte 11"),
        (b"name,type,name\nA,document,B\n", None, "Header column 'name' is repeated"),
        (b"name,,type\nA,,document\n", None, "Header column 2 has no name"),
        (b'name,type\n"A,document\n', None, "A quoted field is not closed at the end of the file"),
        (b"\x1f\x8bnot gzip", None, "The file is not valid gzip data"),
    ],
)
def test_bad_files_are_400_at_upload(
    tenant: Any, content: bytes, options: Any, message: str
) -> None:
    # given: a broken file; when: uploaded
    response = upload(tenant.api, content, options)
    # then: a 400 naming the problem, and no job and no rows
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert message in [d["message"] for d in error["details"]], error
    assert Resource.objects.count() == 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"validation": "loose"}, "options.validation"),
        ({"chunk_size": 0}, "options.chunk_size"),
        ({"chunk_size": 10_001}, "options.chunk_size"),
        ({"dry_run": "maybe"}, "options.dry_run"),
        ({"upsert_key": "email"}, "options.upsert_key"),
        ({"mapping": {"colour": "c", "name": "n", "type": "t"}}, "options.mapping.colour"),
        ({"mapping": {"name": "n"}}, "options.mapping.type"),
        ({"mapping": {"name": {"type": "xml", "field": "n"}, "type": "t"}}, "options.mapping.name"),
        ({"surprise": 1}, "options.surprise"),
        ({"webhook": "not a url"}, "options.webhook"),
    ],
)
def test_bad_options_are_400(tenant: Any, options: dict[str, Any], field: str) -> None:
    # when
    response = upload(tenant.api, "name,type\nA,document\n", options)
    # then
    assert response.status_code == 400
    assert field in [d["field"] for d in response.json()["error"]["details"]]


def test_options_not_json_and_missing_file_and_wrong_media_type(tenant: Any) -> None:
    # when/then: options that are not JSON
    response = tenant.api.post(
        "/v1/import/resources", {"options": "{nope", "file": b"x"}, format="multipart"
    )
    assert response.status_code == 400
    # when/then: no file part
    response = tenant.api.post("/v1/import/resources", {"options": "{}"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "file"
    # when/then: a JSON body
    response = tenant.api.post("/v1/import/resources", {"a": 1}, format="json")
    assert response.status_code == 415


INVALID_CSV = (
    "name,type,status,metadata\n"
    "Good 1,document,active,{}\n"
    ",document,active,{}\n"
    "Good 2,image,,\n"
    "Bad type,spreadsheet,active,{}\n"
    'Bad meta,video,draft,"[1,2]"\n'
    "Bad json,video,draft,{nope\n"
    "Short row,video\n"
)


def test_strict_import_with_invalid_rows_fails_and_writes_nothing(tenant: Any) -> None:
    # given: a file with 2 valid and 5 invalid rows
    # when
    response = upload(tenant.api, INVALID_CSV, {"validation": "strict"})
    # then: the job checks its rows first, fails, lists every bad row, writes nothing
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "processing" and body["total_rows"] == 7
    job = run_chunks(body["job_id"])
    assert job.status == "failed" and job.failed == 5
    assert Resource.objects.count() == 0
    errors = {(e.row, e.field): e for e in JobError.objects.filter(job=job)}
    assert set(errors) == {(2, "name"), (4, "type"), (5, "metadata"), (6, "metadata"), (7, "row")}
    assert errors[(2, "name")].message == "Name is required"
    assert errors[(4, "type")].values == {
        "name": "Bad type",
        "type": "spreadsheet",
        "status": "active",
        "metadata": "{}",
    }
    assert errors[(5, "metadata")].message == "Metadata must be a JSON object"
    assert errors[(7, "row")].message == "Expected 4 columns, found 2"


def test_lenient_import_skips_and_reports_invalid_rows(tenant: Any) -> None:
    # given/when
    response = upload(tenant.api, INVALID_CSV, {"validation": "lenient", "chunk_size": 3})
    assert response.status_code == 202
    job = run_chunks(response.json()["job_id"])
    # then
    assert job.status == "completed"
    assert (job.total, job.processed, job.successful, job.failed) == (7, 7, 2, 5)
    assert names(tenant) == ["Good 1", "Good 2"]
    good2 = Resource.objects.get(name="Good 2")
    assert good2.status == "active" and good2.metadata == {}
    rows = JobError.objects.filter(job=job).values_list("row", flat=True)
    assert sorted(row or 0 for row in rows) == [2, 4, 5, 6, 7]


def test_dry_run_validates_reports_and_writes_nothing(tenant: Any) -> None:
    # given: one existing resource named A
    upload(tenant.api, "name,type\nA,document\n", {})
    run_chunks(Job.objects.get().id)
    # when: a dry-run upsert of A (update) and B (create) plus one invalid row
    response = upload(
        tenant.api,
        "name,type\nA,image\nB,video\nC,nope\n",
        {"dry_run": True, "upsert": True, "validation": "lenient"},
    )
    job = run_chunks(response.json()["job_id"])
    # then: reported, not written
    assert (job.successful, job.failed) == (2, 1)
    meta = Chunk.objects.get(job=job).result["meta"]
    assert meta == {"would_create": 1, "would_update": 1}
    assert names(tenant) == ["A"] and Resource.objects.get(name="A").type == "document"


def test_upsert_by_name_twice_gives_no_duplicates_and_applies_in_order(tenant: Any) -> None:
    # given
    first = "name,type,status\nA,document,draft\nB,image,active\n"
    second = "name,type,status\nA,video,\nB,audio,archived\nA,other,published\nC,document,\n"
    for content in (first, second):
        # when
        response = upload(
            tenant.api, content, {"upsert": True, "upsert_key": "name", "chunk_size": 2}
        )
        job = run_chunks(response.json()["job_id"])
        assert job.status == "completed" and job.failed == 0
    # then: one resource per name, later rows win, an empty status keeps the stored one
    stored = {
        r.name: (r.type, r.status) for r in Resource.objects.filter(tenant=tenant.client_model)
    }
    assert stored == {
        "A": ("other", "published"),
        "B": ("audio", "archived"),
        "C": ("document", "active"),
    }


def test_upsert_by_name_with_two_live_matches_is_a_conflict_row(tenant: Any) -> None:
    # given: two resources named Twin
    for _ in range(2):
        tenant.api.post("/v1/resources", {"name": "Twin", "type": "image"}, format="json")
    # when
    response = upload(
        tenant.api, "name,type\nTwin,video\nSolo,video\n", {"upsert": True, "validation": "lenient"}
    )
    job = run_chunks(response.json()["job_id"])
    # then
    assert (job.successful, job.failed) == (1, 1)
    error = JobError.objects.get(job=job)
    assert (error.row, error.code, error.field) == (1, "CONFLICT", "name")


def test_upsert_by_id_creates_with_that_id_then_updates(tenant: Any) -> None:
    # given/when: an id that does not exist, twice
    for kind in ("document", "video"):
        response = upload(
            tenant.api,
            f"id,name,type\nexisting_123,Mine,{kind}\n",
            {
                "upsert": True,
                "upsert_key": "id",
                "mapping": {"id": "id", "name": "name", "type": "type"},
            },
        )
        assert response.status_code == 202, response.json()
        run_chunks(response.json()["job_id"])
    # then
    resource = Resource.objects.get(tenant=tenant.client_model)
    assert (resource.public_id, resource.type) == ("existing_123", "video")


def test_client_ids_without_upsert_conflict_per_row(tenant: Any) -> None:
    # given: id taken already
    tenant.api.post("/v1/resources", {"id": "taken", "name": "x", "type": "image"}, format="json")
    # when
    response = upload(
        tenant.api,
        "id,name,type\ntaken,A,video\nfresh,B,video\nfresh,C,video\n",
        {"validation": "lenient"},
    )
    job = run_chunks(response.json()["job_id"])
    # then
    assert (job.successful, job.failed) == (1, 2)
    assert set(JobError.objects.filter(job=job).values_list("row", "code")) == {
        (1, "CONFLICT"),
        (3, "CONFLICT"),
    }
    assert Resource.objects.get(public_id="fresh").name == "B"


@override_settings(PCF_IMPORT_MAX_BYTES=100)
def test_max_size_is_enforced_while_streaming(tenant: Any) -> None:
    # given: a file over the cap (and a gzip one that inflates over it)
    big = "name,type\n" + "x,document\n" * 20
    # when/then
    assert upload(tenant.api, big, {}).status_code == 413
    response = upload(tenant.api, gzip.compress(big.encode()), {})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert Resource.objects.count() == 0


def test_error_csv_download(tenant: Any) -> None:
    # given: a lenient import with bad rows
    response = upload(tenant.api, INVALID_CSV, {"validation": "lenient"})
    job_id = response.json()["job_id"]
    run_chunks(job_id)
    # when
    response = tenant.api.get(f"/v1/jobs/{job_id}/errors?format=csv")
    # then: one line per error, with the row numbers
    assert response.status_code == 200
    text = (
        b"".join(response.streaming_content).decode()
        if response.streaming
        else response.content.decode()
    )
    assert "spreadsheet" in text
    assert len([line for line in text.splitlines() if line.strip()]) == 1 + 5


def test_another_tenant_never_sees_the_job(tenant: Any, other_tenant: Any, anon: Any) -> None:
    # given
    response = upload(tenant.api, "name,type\nA,document\n", {})
    # when/then
    assert other_tenant.api.get(f"/v1/jobs/{response.json()['job_id']}").status_code == 404
    assert anon.post("/v1/import/resources", {}, format="multipart").status_code == 401


def test_copy_keeps_names_with_a_copy_end_marker_line_and_special_characters(
    tenant: Any,
) -> None:
    # given: names COPY's CSV format could misread: a lone `\.` line (PostgreSQL's
    # end-of-data marker), quotes, commas, CRLF inside a quoted field, a backslash
    tricky = ["a\n\\.\nb", 'say "hi", ok', "cr\r\nlf", "back\\slash", "tab\there"]
    body = "name,type,metadata\n" + "".join(
        '"' + n.replace('"', '""') + '",image,"{""k"": ""v\\\\.""}"\n' for n in tricky
    )
    # when
    response = upload(tenant.api, body, {"validation": "strict"})
    assert response.status_code == 202, response.json()
    job = run_chunks(response.json()["job_id"])
    # then: every row is stored exactly as sent
    assert (job.status, job.successful) == ("completed", 5)
    assert names(tenant) == sorted(tricky)
    assert {r.metadata["k"] for r in Resource.objects.filter(tenant=tenant.client_model)} == {
        "v\\."
    }
    # and: without such a line, the same characters go through the CSV COPY path too
    response = upload(tenant.api, body.replace("\\\\.", "x").replace("\\.", "y"), {})
    job = run_chunks(response.json()["job_id"])
    assert (job.status, job.successful) == ("completed", 5)
