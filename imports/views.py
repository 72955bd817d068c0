"""HTTP faces of imports: parse the request, call one service, answer 202."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imports.options import parse_csv_options
from imports.services import bulk_import_start, csv_import_start
from imports.upload import check_length, raw_pieces, read_multipart
from jobs.models import Job
from jobs.representation import job_accepted
from pcf.auth import tenant_of
from pcf.exceptions import UnsupportedMediaType, ValidationError, field_error
from pcf.jsondepth import loads as json_loads
from pcf.parsers import PcfJSONParser

CSV_TYPES = {"text/csv", "application/csv", "text/plain"}
# Options that may also come one by one in the query string (raw text/csv uploads).
QUERY_OPTIONS = (
    "mapping",
    "validation",
    "dry_run",
    "chunk_size",
    "upsert",
    "upsert_key",
)


def _webhook_in_query() -> ValidationError:
    # A webhook's URL and headers are secrets (tokens, signatures): query strings end up
    # in access logs, proxies and browser history.
    return field_error(
        "options.webhook",
        "Send the webhook in the request body (the multipart options part), never in the "
        "query string",
    )


def _query_options(request: Request) -> Any:
    """`?options=<json>`, or the options as separate parameters (`mapping` as JSON);
    None when the query string has none. A webhook there is a 400 (_webhook_in_query)."""
    params = request.query_params
    if "webhook" in params:
        raise _webhook_in_query()
    if "options" in params:
        try:
            decoded = json_loads(params["options"], field="options")
        except json.JSONDecodeError:
            return params["options"]  # parse_csv_options reports it
        if isinstance(decoded, dict) and "webhook" in decoded:
            raise _webhook_in_query()
        return decoded
    given = {k: params[k] for k in QUERY_OPTIONS if k in params}
    if not given:
        return None
    for key in ("mapping",):
        if key in given and given[key].lstrip().startswith("{"):
            try:
                given[key] = json_loads(given[key], field=f"options.{key}")
            except json.JSONDecodeError:
                raise field_error(f"options.{key}", "Not valid JSON") from None
    return given


def _import_answer(job: Job, total_rows: int) -> Response:
    return Response(
        {**job_accepted(job), "total_rows": total_rows, "processed": job.processed}, status=202
    )


class CsvImportView(APIView):
    """POST /v1/import/resources: a CSV file as multipart (`file`, `options`) or as a raw
    text/csv body with options in the query string; gzip either way."""

    @extend_schema(
        request={"multipart/form-data": dict, "text/csv": str},
        parameters=[OpenApiParameter("options", str, required=False)],
        responses={202: dict},
    )
    def post(self, request: Request) -> Response:
        tenant = tenant_of(request)
        django_request = request._request
        check_length(django_request)
        media = django_request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        query_options = _query_options(request)

        def consume(raw_options: Any, pieces: Iterator[bytes]) -> tuple[Job, int]:
            options = parse_csv_options(raw_options)
            return csv_import_start(tenant=tenant, options=options, pieces=pieces)

        if media == "multipart/form-data":
            job, total = read_multipart(django_request, consume, query_options=query_options)
        elif media in CSV_TYPES:
            job, total = consume(query_options, raw_pieces(django_request))
        else:
            raise UnsupportedMediaType(
                "Send multipart/form-data (file + options) or a text/csv body"
            )
        return _import_answer(job, total)


class BulkImportView(APIView):
    """POST /v1/bulk/resources: the cookbook's JSON bulk import."""

    parser_classes = [PcfJSONParser]

    @extend_schema(request=dict, responses={202: dict})
    def post(self, request: Request) -> Response:
        job = bulk_import_start(tenant=tenant_of(request), body=request.data)
        return _import_answer(job, job.total)
