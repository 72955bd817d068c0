"""The verbatim fast path of CSV import chunks (imports/verbatim.py, the handler's
_copy_verbatim, resources.services.many.resources_copy_verbatim): which imports and chunk
texts may go to COPY as uploaded, that they store exactly what the general path stores,
and that whatever PostgreSQL refuses falls back to the general path, row by row, with
nothing written twice.

Chunks run in-process through the engine's chunk runner (tests/imports/helpers.run_chunks), except
the one test marked slow, which uses real Celery workers. Whether a chunk took the
verbatim path is read from the queries it ran: only that path sets pcf.copy_tenant_id."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from imports.apply import Pending, apply_rows
from imports.handlers import csv_columns, csv_rows
from imports.parsing import parse_csv_options
from imports.rows import BoundColumn, bind_mapping, row_checker
from imports.verbatim import VerbatimPlan, verbatim_plan, verbatim_rows
from jobs.models import Chunk, Job, JobError
from resources.models import Resource
from resources.services import resources_copy_verbatim
from tests.imports.helpers import run_chunks, upload
from tests.tenants import Tenant
from tests.waiting import wait_finished

pytestmark = pytest.mark.django_db

ID_FORMAT = re.compile(r"res_[0-9a-f]{28}")
HEADER = ["name", "type", "status", "metadata"]
HEADER_LINE = ",".join(HEADER) + "\n"
VERBATIM_MARK = "pcf.copy_tenant_id"  # set by resources_copy_verbatim, and only there


# --- helpers ---------------------------------------------------------------------------


def plan_of(
    header: list[str], mapping: dict[str, Any] | None = None, **options: Any
) -> VerbatimPlan | None:
    """verbatim_plan for an upload of this header and options, bound as the upload binds
    them (imports.services stores the same options, header and columns on the job)."""
    raw = dict(options)
    if mapping is not None:
        raw["mapping"] = mapping
    parsed = parse_csv_options(raw)
    columns = bind_mapping(parsed.mapping, header)
    job_options = {
        **parsed.as_job_options(),
        "header": header,
        "columns": [[c.field, c.index, c.json] for c in columns],
    }
    return verbatim_plan(job_options, header, columns)


def cell(value: str) -> str:
    """One CSV cell the RFC 4180 way: quoted (quotes doubled) only when it must be."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_text(rows: Sequence[tuple[str, ...]], eol: str = "\n") -> str:
    return "".join(",".join(cell(v) for v in row) + eol for row in rows)


def stored(tenant: Any) -> list[tuple[str, str, str, str]]:
    """The tenant's rows in insert order, metadata as PostgreSQL prints the jsonb."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, type, status, metadata::text FROM resources_resource "
            "WHERE tenant_id = %s ORDER BY seq",
            [tenant.client_model.pk],
        )
        return [tuple(r) for r in cursor.fetchall()]


def exact_json(text: str) -> Any:
    """JSON with every number exact, so 1e400 and PostgreSQL's 1000…0 compare equal."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def verbatim_copies(queries: CaptureQueriesContext) -> int:
    return sum(VERBATIM_MARK in q["sql"] for q in queries.captured_queries)


def run_chunks_watched(job_id: str) -> tuple[Job, int]:
    """run_chunks, and how many COPYs the verbatim path attempted on the way."""
    with CaptureQueriesContext(connection) as queries:
        job = run_chunks(job_id)
    return job, verbatim_copies(queries)


def chunk_qualifies(job: Job, chunk: Chunk) -> int | None:
    """What the handler's verbatim check says about this stored chunk."""
    header, columns = csv_columns(job.options)
    plan = verbatim_plan(job.options, header, columns)
    assert plan is not None
    text = chunk.payload_text or ""
    return verbatim_rows(plan, text, csv_rows(text))


# --- 1. which imports may go verbatim --------------------------------------------------


@pytest.mark.parametrize(
    ("header", "mapping", "options"),
    [
        pytest.param(HEADER, None, {"upsert": True}, id="upsert by name"),
        pytest.param(["id", *HEADER], None, {"upsert": True, "upsert_key": "id"}, id="upsert id"),
        pytest.param(HEADER, None, {"dry_run": True}, id="dry run"),
        pytest.param(["id", "name", "type"], None, {}, id="client ids"),
        pytest.param(["name", "type", "colour"], None, {}, id="unmapped extra column"),
        pytest.param(
            ["name", "type"],
            {"name": {"type": "json", "field": "name"}, "type": "type"},
            {},
            id="json mapping of name",
        ),
        pytest.param(
            ["n", "t"], {"name": "n", "type": "t", "status": "t"}, {}, id="one column mapped twice"
        ),
    ],
)
def test_plan_refuses_imports_whose_rows_must_be_rewritten(
    header: list[str], mapping: dict[str, Any] | None, options: dict[str, Any]
) -> None:
    # given: the same header and mapping qualify without the option (upsert, dry run)
    # or are refused for the header/mapping itself
    # when/then
    assert plan_of(header, mapping, **options) is None


def test_plan_is_given_for_the_same_header_without_those_options() -> None:
    # the refusals above for upsert / dry run are about the option, not the header
    assert plan_of(HEADER) == VerbatimPlan(fields=tuple(HEADER), width=4)
    assert plan_of(HEADER, upsert=False, dry_run=False, validation="lenient") is not None


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(("type", "status"), id="no name"),
        pytest.param(("name", "status"), id="no type"),
    ],
)
def test_plan_refuses_a_header_lacking_name_or_type(fields: tuple[str, ...]) -> None:
    # given: columns bound without name or type (the options parser never makes these)
    header = list(fields)
    columns = [BoundColumn(field=f, index=i, json=False) for i, f in enumerate(fields)]
    # when/then
    assert verbatim_plan({}, header, columns) is None


@pytest.mark.parametrize(
    ("header", "mapping", "fields"),
    [
        (["type", "metadata", "name", "status"], None, ("type", "metadata", "name", "status")),
        (["name", "type"], None, ("name", "type")),
        (["kind", "title"], {"name": "title", "type": "kind"}, ("type", "name")),
        (
            ["Meta", "State", "Kind", "Title"],
            {
                "name": "Title",
                "type": "Kind",
                "status": "State",
                "metadata": {"type": "json", "field": "Meta"},
            },
            ("metadata", "status", "type", "name"),
        ),
    ],
)
def test_plan_lists_the_fields_in_header_order(
    header: list[str], mapping: dict[str, Any] | None, fields: tuple[str, ...]
) -> None:
    # when
    plan = plan_of(header, mapping)
    # then: COPY's column list follows the file's columns, whatever the mapping's order
    assert plan == VerbatimPlan(fields=fields, width=len(header))


# --- 2. which chunk texts may go verbatim -----------------------------------------------

PLAN = VerbatimPlan(fields=tuple(HEADER), width=4)
GOOD = "Good,document,active,{}\n"


def qualifies(text: str, plan: VerbatimPlan = PLAN) -> int | None:
    return verbatim_rows(plan, text, csv_rows(text))


def test_good_rows_around_the_refused_ones_qualify() -> None:
    # the refusals below are about the one line between two of these
    assert qualifies(GOOD + GOOD) == 2


@pytest.mark.parametrize(
    "line",
    [
        pytest.param('x"y,document,active,{}\n', id="stray quote in unquoted field"),
        pytest.param('"a"b,document,active,{}\n', id="text after a closing quote"),
        pytest.param(' "a",document,active,{}\n', id="space before an opening quote"),
        pytest.param("a,document,active\n", id="too few cells"),
        pytest.param("a,document,active,{},extra\n", id="too many cells"),
        pytest.param("a,document,,{}\n", id="empty status"),
        pytest.param('a,document,"",{}\n', id="quoted empty status"),
        pytest.param("a,document,active,\n", id="empty metadata"),
        pytest.param('a,document,active,""\n', id="quoted empty metadata"),
        pytest.param('a,document,active,"[]"\n', id="metadata array"),
        pytest.param('a,document,active,"""s"""\n', id="metadata string"),
        pytest.param("a,document,active, {}\n", id="metadata leading space"),
        pytest.param("a,document,active,{} \n", id="metadata trailing space"),
        pytest.param("a,document,active,{\n", id="metadata one brace"),
        pytest.param('a,document,active,"{""a"":""\\u00e9""}"\n', id="metadata \\u escape"),
        pytest.param('a,document,active,"{""a"":""\\u0000""}"\n', id="metadata \\u0000"),
        pytest.param(
            'a,document,active,"' + '{""a"":' * 11 + "1" + "}" * 11 + '"\n', id="metadata too deep"
        ),
        pytest.param(
            'a,document,active,"{""k"":""' + "v" * 70_000 + '""}"\n', id="metadata too long"
        ),
        pytest.param("a,spreadsheet,active,{}\n", id="invalid type"),
        pytest.param("a,Document,active,{}\n", id="type in the wrong case"),
        pytest.param("a,,active,{}\n", id="empty type"),
        pytest.param("a,document,gone,{}\n", id="invalid status"),
        pytest.param(",document,active,{}\n", id="empty name"),
        pytest.param("x" * 256 + ",document,active,{}\n", id="name of 256 chars"),
        pytest.param("a\x00b,document,active,{}\n", id="name with NUL"),
        pytest.param("a,document,active,{}\r", id="bare CR line end"),
    ],
)
def test_rows_refused_for_verbatim(line: str) -> None:
    # when/then: the whole chunk goes the general path
    assert qualifies(GOOD + line + GOOD) is None


def test_text_without_a_final_line_end_is_refused() -> None:
    assert qualifies(GOOD + GOOD.rstrip("\n")) is None


# Tricky but valid rows: (name, type, status, metadata as sent).
VALID_ROWS: list[tuple[str, str, str, str]] = [
    ("Plain", "document", "active", "{}"),
    ("Smith, John", "image", "draft", '{"a":"x,y"}'),
    ('He said "hi"', "video", "published", '{"q":"say \\"hi\\", ok"}'),
    ("two\nlines", "audio", "archived", '{"text":"line 1\\nline 2"}'),
    ("cr\r\nlf", "other", "active", '{"multi":"a,\\"b\\"\\r\\n"}'),
    ("Zürich café — Ærø", "document", "draft", '{"city":"Zürich","emoji":"🙂"}'),
    ("🚀 launch 🎉", "image", "active", '{"🔑":"🗝️","ñ":["ü","ß"]}'),
    ("東京タワー", "video", "archived", '{"名前":"値"}'),
    ("Huge number", "document", "active", '{"n":' + "9" * 250 + "}"),
    ("Nested", "audio", "published", '{"a":{"b":[1,2,{"c":null}]}}'),
    ("  padded name  ", "other", "draft", '{ "a" : [ 1 , 2.50 ] ,\n "b" : true }'),
    ("Duplicate keys", "document", "active", '{"a":1,"a":2}'),
    ("Precise", "image", "draft", '{"x":0.1000000000000000055511151231257827,"i":-0}'),
    ("Deep", "video", "active", '{"a":' * 9 + "{}" + "}" * 9),
    ("x" * 255, "audio", "published", '{"long":"' + "y" * 2000 + '"}'),
    ("back\\slash \\N NULL", "other", "archived", '{"path":"C:\\\\dir\\\\"}'),
    ("a\n\\.\nb", "document", "active", '{"k":"v\\\\."}'),
    ("tab\there", "image", "draft", "{}"),
]


@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("row", VALID_ROWS, ids=[f"row{i}" for i in range(len(VALID_ROWS))])
def test_each_tricky_valid_row_qualifies(row: tuple[str, str, str, str], eol: str) -> None:
    text = csv_text([row], eol)
    assert qualifies(GOOD.replace("\n", eol) + text) == 2


def test_all_tricky_valid_rows_qualify_together_in_any_field_order() -> None:
    # given: the same rows in the order status,name,metadata,type
    plan = plan_of(["status", "name", "metadata", "type"])
    assert plan is not None
    rows = [(s, n, m, t) for n, t, s, m in VALID_ROWS]
    # when/then
    assert qualifies(csv_text(rows, "\r\n"), plan) == len(rows)
    # and: the order matters (a status in the type cell is refused)
    assert qualifies(csv_text(rows, "\r\n"), PLAN) is None


def test_rows_without_status_or_metadata_columns_qualify() -> None:
    plan = plan_of(["type", "name"])
    assert plan is not None
    assert qualifies('image,"a, b"\r\nvideo,c\r\n', plan) == 2
    assert qualifies("image,\n", plan) is None  # no name


# --- 3. parity: verbatim and general paths store the same values ------------------------


def general_path(tenant: Any, text: str) -> None:
    """The general path of import_csv_chunk for this text: every row checked in Python
    (imports.rows), then written by imports.apply."""
    header, columns = HEADER, bind_mapping((), HEADER)
    check = row_checker(columns, len(header))
    pending = []
    for row, cells in enumerate(csv_rows(text), start=1):
        values, problems = check(cells)
        assert values is not None, (row, problems)
        pending.append(Pending(values, row, None, cells))
    outcome = apply_rows(
        tenant=tenant.client_model,
        rows=pending,
        errors=[],
        invalid=0,
        upsert=False,
        upsert_key="name",
        dry_run=False,
    )
    assert (outcome.successful, outcome.failed) == (len(pending), 0)


def assert_ids_are_theirs(owner: Any, stranger: Any) -> None:
    resources = list(Resource.objects.filter(tenant=owner.client_model))
    ids = [r.public_id for r in resources]
    assert ids and all(ID_FORMAT.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    assert all(r.created_at is not None and r.created_at == r.updated_at for r in resources)
    assert all(r.deleted_at is None for r in resources)
    assert not Resource.objects.filter(tenant=stranger.client_model, public_id__in=ids).exists()
    for public_id in ids[:3]:
        assert owner.api.get(f"/v1/resources/{public_id}").status_code == 200
        assert stranger.api.get(f"/v1/resources/{public_id}").status_code == 404


# Rows of one line each get their ids from the worker (resources_copy_verbatim); a chunk
# with a quoted line end gets them from the table's default.
ONE_LINE_ROWS = [row for row in VALID_ROWS if not any("\n" in v or "\r" in v for v in row)]


def ids_in_insert_order(tenant: Any) -> list[str]:
    return list(
        Resource.objects.filter(tenant=tenant.client_model)
        .order_by("seq")
        .values_list("public_id", flat=True)
    )


@pytest.mark.parametrize(
    "rows",
    [pytest.param(VALID_ROWS, id="quoted line ends"), pytest.param(ONE_LINE_ROWS, id="one line")],
)
@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_verbatim_and_general_paths_store_exactly_the_same_values(
    tenant: Any, other_tenant: Any, eol: str, rows: list[tuple[str, str, str, str]]
) -> None:
    # given: the tricky rows as one chunk text, which qualifies for verbatim
    text = csv_text(rows, eol)
    assert qualifies(text) == len(rows)
    direct = Tenant("tenant-c")
    # when: written verbatim by COPY directly (PostgreSQL accepting every row) ...
    with transaction.atomic():
        resources_copy_verbatim(
            tenant=direct.client_model, fields=PLAN.fields, csv_text=text, rows=len(rows)
        )
    # ... through the API, where the chunk takes the verbatim path ...
    response = upload(tenant.api, HEADER_LINE.replace("\n", eol) + text, {"validation": "strict"})
    assert response.status_code == 202, response.json()
    job, copies = run_chunks_watched(response.json()["job_id"])
    assert (job.status, job.successful, job.failed) == ("completed", len(rows), 0)
    assert copies == 1
    # ... and by the general path, row by row in Python
    general_path(other_tenant, text)
    # then: the three store the very same values, in file order
    general = stored(other_tenant)
    assert stored(direct) == general
    assert stored(tenant) == general
    # and: those are the values sent (metadata equal as JSON, numbers exact)
    assert [r[:3] for r in general] == [r[:3] for r in rows]
    assert [exact_json(r[3]) for r in general] == [exact_json(r[3]) for r in rows]
    # and: verbatim ids have the server's format and stay in their tenant
    assert_ids_are_theirs(tenant, other_tenant)
    assert_ids_are_theirs(direct, other_tenant)
    assert_ids_are_theirs(direct, tenant)


def test_one_line_rows_get_ascending_ids_of_one_time_from_the_copy(tenant: Any) -> None:
    # given: 3,000 one-line rows (the table's default would make a new random part per
    # row, in no order within a millisecond)
    rows = [(f"row {i}", "image", "active", f'{{"n":{i}}}') for i in range(3000)]
    # when
    with transaction.atomic():
        resources_copy_verbatim(
            tenant=tenant.client_model, fields=PLAN.fields, csv_text=csv_text(rows), rows=3000
        )
    # then: the ids were made together: one time part, ascending in file order
    ids = ids_in_insert_order(tenant)
    assert [r[0] for r in stored(tenant)] == [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == 3000
    assert all(ID_FORMAT.fullmatch(i) for i in ids)
    assert len({i[:16] for i in ids}) == 1
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("text", "claimed"),
    [
        pytest.param('a,image\n"b\nc",video\n', 3, id="a line end cut as a record"),
        pytest.param("a,image\nb,video\n", 3, id="more than there are"),
        pytest.param("a,image\nb,video\n", 1, id="fewer than there are"),
    ],
)
def test_a_wrong_record_count_writes_nothing(tenant: Any, text: str, claimed: int) -> None:
    # when: the caller's count is wrong, e.g. a line taken for a record: the ids would be
    # put inside a quoted cell
    with pytest.raises(DataError), transaction.atomic():
        resources_copy_verbatim(
            tenant=tenant.client_model, fields=("name", "type"), csv_text=text, rows=claimed
        )
    # then
    assert stored(tenant) == []


def test_verbatim_copy_fills_only_the_tenant_it_is_given(tenant: Any, other_tenant: Any) -> None:
    # given/when: two verbatim copies, one per tenant, in one transaction
    with transaction.atomic():
        resources_copy_verbatim(
            tenant=tenant.client_model, fields=("name", "type"), csv_text="mine,image\n", rows=1
        )
        resources_copy_verbatim(
            tenant=other_tenant.client_model,
            fields=("type", "name"),
            csv_text="video,theirs\n",
            rows=1,
        )
    # then
    assert stored(tenant) == [("mine", "image", "active", "{}")]
    assert stored(other_tenant) == [("theirs", "video", "active", "{}")]


# --- 4. fallback: what PostgreSQL refuses goes the general path ------------------------

BAD_METADATA = [
    pytest.param('{"a":}', id="missing value"),
    pytest.param('{"a":1,}', id="trailing comma"),
    pytest.param('{"a":NaN}', id="NaN"),
    pytest.param('{"a":"x\ty"}', id="raw tab in a string"),
    pytest.param('{"a":1}{"b":2}', id="two objects"),
    pytest.param("{'a':1}", id="single quotes"),
]


def fallback_body(bad: str) -> tuple[str, list[str]]:
    """8 rows, chunks of 4: chunk 1 clean, chunk 2 with the bad metadata at row 7.
    Returns the file and the names that must be created."""
    rows = [(f"Row {i}", "document", "active", f'{{"i":{i}}}') for i in range(1, 9)]
    rows[6] = ("Row 7", "video", "draft", bad)
    return HEADER_LINE + csv_text(rows), [r[0] for i, r in enumerate(rows) if i != 6]


def assert_row_7_failed_alone(job: Job, tenant: Any, created: list[str], bad: str) -> None:
    assert (job.status, job.total, job.processed) == ("completed", 8, 8)
    assert (job.successful, job.failed) == (7, 1)
    (error,) = JobError.objects.filter(job=job)
    assert (error.row, error.field, error.code) == (7, "metadata", "VALIDATION_ERROR")
    assert error.message.startswith("Metadata is not valid JSON"), error.message
    assert error.values == {"name": "Row 7", "type": "video", "status": "draft", "metadata": bad}
    # every other row once: the refused COPY left nothing behind
    resources = Resource.objects.filter(tenant=tenant.client_model)
    assert resources.count() == 7
    assert sorted(resources.values_list("name", flat=True)) == sorted(created)
    assert all(r.metadata == {"i": int(r.name.split()[1])} for r in resources)
    chunks = list(Chunk.objects.filter(job=job).order_by("seq"))
    assert [(c.status, c.successful, c.failed) for c in chunks] == [("done", 4, 0), ("done", 3, 1)]


@pytest.mark.parametrize("bad", BAD_METADATA)
def test_lenient_chunk_refused_by_postgresql_falls_back_to_the_general_path(
    tenant: Any, bad: str
) -> None:
    # given: both chunks qualify, so the bad JSON reaches PostgreSQL's COPY
    body, created = fallback_body(bad)
    response = upload(tenant.api, body, {"validation": "lenient", "chunk_size": 4})
    assert response.status_code == 202, response.json()
    job = Job.objects.get(pk=response.json()["job_id"])
    chunks = list(Chunk.objects.filter(job=job).order_by("seq"))
    assert [chunk_qualifies(job, c) for c in chunks] == [4, 4]
    # when
    job, copies = run_chunks_watched(str(job.pk))
    # then: both chunks tried COPY; the refused one was redone row by row
    assert copies == 2
    assert_row_7_failed_alone(job, tenant, created, bad)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_lenient_fallback_on_real_workers(celery_worker: Any, tenant: Any) -> None:
    # given
    body, created = fallback_body('{"a":}')
    # when
    response = upload(tenant.api, body, {"validation": "lenient", "chunk_size": 4})
    assert response.status_code == 202, response.json()
    job = wait_finished(response.json()["job_id"], timeout=120)
    # then
    assert_row_7_failed_alone(job, tenant, created, '{"a":}')


def test_strict_import_with_json_postgresql_would_refuse_fails_in_its_check_pass(
    tenant: Any,
) -> None:
    # given
    body, _ = fallback_body('{"a":}')
    # when
    response = upload(tenant.api, body, {"validation": "strict", "chunk_size": 4})
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "processing"
    job = Job.objects.get(pk=response.json()["job_id"])
    checked = dict(Chunk.objects.filter(job=job).values_list("row_offset", "checked"))
    assert checked.pop(4) is False  # row 7's chunk waits for the check pass ...
    assert set(checked.values()) == {True}  # ... the others were proved at upload
    # when: the check pass and then the runner get the chunks
    job, copies = run_chunks_watched(str(job.pk))
    # then: Python's check found the row; the job failed before any chunk was applied
    assert copies == 0
    assert (job.status, job.failed) == ("failed", 1)
    (error,) = JobError.objects.filter(job=job)
    assert (error.row, error.field) == (7, "metadata")
    assert error.message.startswith("Metadata is not valid JSON")
    assert error.values == {
        "name": "Row 7",
        "type": "video",
        "status": "draft",
        "metadata": '{"a":}',
    }
    assert not Chunk.objects.filter(job=job, status="done").exists()
    assert not Resource.objects.filter(tenant=tenant.client_model).exists()


# --- 5. database defaults and column order ---------------------------------------------


def test_name_and_type_only_get_the_database_defaults(tenant: Any) -> None:
    # when
    response = upload(tenant.api, 'name,type\nA,document\n"B, b",image\n', {})
    assert response.status_code == 202, response.json()
    job, copies = run_chunks_watched(response.json()["job_id"])
    # then: verbatim, with PostgreSQL's defaults for everything not in the file
    assert copies == 1
    assert (job.status, job.successful) == ("completed", 2)
    assert stored(tenant) == [("A", "document", "active", "{}"), ("B, b", "image", "active", "{}")]
    assert [r.metadata for r in Resource.objects.filter(tenant=tenant.client_model)] == [{}, {}]
    assert_ids_are_theirs(tenant, Tenant("tenant-c"))


@pytest.mark.parametrize(
    ("header", "mapping"),
    [
        ("status,name,metadata,type", None),
        (
            "State,Title,Meta,Kind",
            {
                "name": "Title",
                "type": "Kind",
                "status": "State",
                "metadata": {"type": "json", "field": "Meta"},
            },
        ),
    ],
)
def test_columns_in_another_order_land_in_the_right_fields(
    tenant: Any, header: str, mapping: dict[str, Any] | None
) -> None:
    # given
    body = (
        header + "\n"
        'draft,First,"{""k"":1}",video\n'
        'archived,"Second, too","{""k"":""published""}",audio\n'
        "published,image,{},document\n"
    )
    options = {"mapping": mapping} if mapping else {}
    # when
    response = upload(tenant.api, body, options)
    assert response.status_code == 202, response.json()
    job, copies = run_chunks_watched(response.json()["job_id"])
    # then
    assert copies == 1
    assert (job.status, job.successful) == ("completed", 3)
    assert stored(tenant) == [
        ("First", "video", "draft", '{"k": 1}'),
        ("Second, too", "audio", "archived", '{"k": "published"}'),
        ("image", "document", "published", "{}"),
    ]


# --- 6. mixed line ends ------------------------------------------------------------------


@pytest.mark.parametrize("first", ["\n", "\r\n"], ids=["LF first", "CRLF first"])
def test_mixed_line_ends_in_one_chunk_import_every_row(tenant: Any, first: str) -> None:
    # given: records alternating between two line ends (the chunk still qualifies, so
    # PostgreSQL, which reads one line end style per COPY, sees it)
    other = "\r\n" if first == "\n" else "\n"
    rows = [
        ("A", "document", "active", '{"n":1}'),
        ("B", "image", "draft", "{}"),
        ('C "c"', "video", "published", '{"s":"x"}'),
        ("D\r\nd", "audio", "archived", "{}"),
    ]
    body = HEADER_LINE + "".join(
        csv_text([row], first if i % 2 == 0 else other) for i, row in enumerate(rows)
    )
    response = upload(tenant.api, body, {"validation": "lenient"})
    assert response.status_code == 202, response.json()
    job = Job.objects.get(pk=response.json()["job_id"])
    (chunk,) = Chunk.objects.filter(job=job)
    assert chunk_qualifies(job, chunk) == 4
    # when
    job, _ = run_chunks_watched(str(job.pk))
    # then: every row, with no line end left in any value
    assert (job.status, job.successful, job.failed) == ("completed", 4, 0)
    assert stored(tenant) == [
        ("A", "document", "active", '{"n": 1}'),
        ("B", "image", "draft", "{}"),
        ('C "c"', "video", "published", '{"s": "x"}'),
        ("D\r\nd", "audio", "archived", "{}"),
    ]


# --- 7. strict imports: the check pass decides, the apply pass only COPies --------------


@pytest.mark.parametrize("escape", [False, True], ids=["plain", "with a \\u escape"])
def test_checked_strict_chunks_go_verbatim_and_store_what_the_general_path_stores(
    tenant: Any, other_tenant: Any, escape: bool
) -> None:
    # given: valid rows, some the unchecked fast path would not take (exponents,
    # whitespace around the JSON), and maybe one with a \u escape (stored normalised)
    rows = [
        *VALID_ROWS,
        ("exp", "image", "active", '{"n":1.5e3,"m":2E-2}'),
        ("spaces", "video", "draft", ' {"a": 1} '),
    ]
    if escape:
        rows.append(("escaped", "audio", "active", '{"e":"caf\\u00e9"}'))
    text = csv_text(rows, "\n")
    # when: imported strict (checked, then applied) and by the general path
    response = upload(tenant.api, HEADER_LINE + text, {"validation": "strict"})
    job, copies = run_chunks_watched(response.json()["job_id"])
    general_path(other_tenant, text)
    # then: verbatim exactly when nothing needs rewriting, and the same values either way
    assert (job.status, job.successful) == ("completed", len(rows))
    assert copies == (0 if escape else 1)
    # (the check's memo went with the chunk's input: a done chunk keeps none)
    assert Chunk.objects.filter(job=job, payload__isnull=False).count() == 0
    assert stored(tenant) == stored(other_tenant)
