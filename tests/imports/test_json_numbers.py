"""JSON numbers in metadata as PostgreSQL stores them: `numeric`, printed in plain
notation (1e300 is 301 digits). Sizes count that; what `numeric` cannot hold is a row
error (imports) or a 400 (API), never a failed chunk or a 500."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from imports.rows import _metadata_text
from imports.verbatim import verbatim_plan, verbatim_rows
from jobs.models import JobError
from resources.models import Resource
from resources.parsing import NumberOutOfRange, number_growth, numeric_text_length
from tests.imports.helpers import run_chunks, upload

HEADER = ["name", "type", "status", "metadata"]


@pytest.mark.parametrize(
    ("literal", "printed"),
    [("1e2", "100"), ("1.5e-7", "0.00000015"), ("-2.50", "-2.50"), ("0", "0"), ("1E+3", "1000")],
)
def test_numeric_text_length_is_what_postgresql_prints(literal: str, printed: str) -> None:
    assert numeric_text_length(Decimal(literal)) == len(printed)


def test_numbers_numeric_cannot_hold_are_out_of_range() -> None:
    numeric_text_length(Decimal("1e131071"))
    numeric_text_length(Decimal("1e-16383"))
    for literal in ("1e131072", "1e-16384"):
        with pytest.raises(NumberOutOfRange):
            numeric_text_length(Decimal(literal))
    with pytest.raises(NumberOutOfRange):
        number_growth({"a": [float("inf")]})
    assert number_growth({"a": [1e300, 1.5, 2]}) == 301 - len("1e+300")


def test_metadata_text_counts_the_printed_size_and_refuses_overflow(settings: Any) -> None:
    settings.PCF_METADATA_MAX_BYTES = 1000
    assert _metadata_text('{"n":1e900}') == ('{"n":1e900}', None)
    text, error = _metadata_text('{"n":1e1000}')
    assert text is None and error == "metadata is 1007 bytes; at most 1000"
    text, error = _metadata_text('{"n":1e131072}')
    assert text is None and error == "Metadata number 1E+131072 is out of range"
    text, error = _metadata_text('{"s":"\\u00e9","n":1e400}')
    assert text is None and error == "Metadata numbers must be finite"


def test_rows_with_exponents_never_go_verbatim() -> None:
    from imports.rows import BoundColumn

    columns = [BoundColumn(field=f, index=i, json=f == "metadata") for i, f in enumerate(HEADER)]
    plan = verbatim_plan({}, HEADER, columns)
    assert plan is not None
    good = 'a,image,active,"{""n"":10}"\n'
    assert verbatim_rows(plan, good, [["a", "image", "active", '{"n":10}']]) == 1
    text = 'a,image,active,"{""n"":1e3}"\n'
    assert verbatim_rows(plan, text, [["a", "image", "active", '{"n":1e3}']]) is None


@pytest.mark.django_db
def test_lenient_import_reports_numbers_postgresql_cannot_store_and_keeps_the_rest(
    tenant: Any,
) -> None:
    body = (
        "name,type,status,metadata\n"
        'ok,image,active,"{""n"":1.5e3}"\n'
        'overflow,image,active,"{""n"":1e131072}"\n'
        'too big,image,active,"{""n"":1e70000}"\n'
        'plain,image,active,"{""n"":2}"\n'
    )
    response = upload(tenant.api, body, {"validation": "lenient"})
    assert response.status_code == 202, response.json()
    job = run_chunks(response.json()["job_id"])
    assert (job.status, job.successful, job.failed) == ("completed", 2, 2)
    stored = dict(
        Resource.objects.filter(tenant=tenant.client_model).values_list("name", "metadata")
    )
    assert stored == {"ok": {"n": 1500}, "plain": {"n": 2}}
    errors = {e.row: e.message for e in JobError.objects.filter(job=job)}
    assert errors == {
        2: "Metadata number 1E+131072 is out of range",
        3: "metadata is 70007 bytes; at most 65536",
    }


@pytest.mark.django_db
def test_strict_import_with_an_overflowing_number_fails_and_writes_nothing(tenant: Any) -> None:
    body = 'name,type,metadata\nok,image,"{}"\nbad,image,"{""n"":1e-16384}"\n'
    response = upload(tenant.api, body, {"validation": "strict"})
    job = run_chunks(response.json()["job_id"])
    assert (job.status, job.failed) == ("failed", 1)
    assert not Resource.objects.filter(tenant=tenant.client_model).exists()


@pytest.mark.django_db
def test_api_refuses_metadata_numbers_postgresql_cannot_store(api: Any) -> None:
    # 1e400 is past the double range: Python reads it as inf, PostgreSQL would refuse it
    response = api.post(
        "/v1/resources",
        '{"name":"a","type":"image","metadata":{"n":1e400}}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {"field": "metadata", "message": "metadata numbers must be finite"}
    ]
    # 300 x 1e300 is 2 KB of JSON but 90 KB as PostgreSQL stores it
    many = ",".join(f'"k{i}":1e300' for i in range(300))
    response = api.post(
        "/v1/resources",
        '{"name":"a","type":"image","metadata":{' + many + "}}",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "bytes; at most 65536" in response.json()["error"]["details"][0]["message"]
    ok = api.post(
        "/v1/resources",
        '{"name":"a","type":"image","metadata":{"n":1e300}}',
        content_type="application/json",
    )
    assert ok.status_code == 201


def test_plain_literals_are_sized_and_checked_too(settings: Any) -> None:
    # more fraction digits than numeric holds: refused, though no exponent is involved
    text, error = _metadata_text('{"n":0.' + "1" * 16_384 + "}")
    assert text is None and error is not None and error.endswith("is out of range")
    # a 70,000-digit literal is stored as 70,000 digits (json.dumps would say Infinity)
    text, error = _metadata_text('{"a":' + "7" * 70_000 + ".5}")
    assert text is None and error == "metadata is 70008 bytes; at most 65536"
    # integers longer than Python (and the API's parser) reads are refused plainly
    text, error = _metadata_text('{"n":' + "1" * 4_301 + "}")
    assert text is None and error == "Metadata numbers may have at most 4300 digits"
    assert _metadata_text('{"n":' + "1" * 4_300 + "}")[1] is None


@pytest.mark.django_db
@pytest.mark.parametrize("neighbour", ["valid", "invalid"])
def test_long_numbers_get_the_same_verdict_whatever_path_their_chunk_takes(
    tenant: Any, neighbour: str
) -> None:
    # given: a chunk that qualifies for verbatim (valid neighbour) or does not
    other = '"{}"' if neighbour == "valid" else '"[]"'
    body = (
        "name,type,status,metadata\n"
        f'long int,image,active,"{{""n"":{"1" * 4_301}}}"\n'
        f'long fraction,image,active,"{{""n"":0.{"1" * 16_384}}}"\n'
        f"neighbour,image,active,{other}\n"
        'fine,image,active,"{""n"":0.5}"\n'
    )
    response = upload(tenant.api, body, {"validation": "lenient"})
    job = run_chunks(response.json()["job_id"])
    # then: both long numbers are row errors either way, and nothing else changes
    errors = {e.row: e.field for e in JobError.objects.filter(job=job)}
    assert {1: "metadata", 2: "metadata"}.items() <= errors.items()
    names = set(Resource.objects.filter(tenant=tenant.client_model).values_list("name", flat=True))
    assert names == ({"neighbour", "fine"} if neighbour == "valid" else {"fine"})


@pytest.mark.django_db
def test_strict_import_with_a_long_fraction_writes_nothing(tenant: Any) -> None:
    body = f'name,type,metadata\nok,image,"{{}}"\nbad,image,"{{""n"":0.{"1" * 16_384}}}"\n'
    response = upload(tenant.api, body, {"validation": "strict", "chunk_size": 1})
    job = run_chunks(response.json()["job_id"])
    assert (job.status, job.failed) == ("failed", 1)
    assert not Resource.objects.filter(tenant=tenant.client_model).exists()
