"""HTTP faces of imports: parse the request, call one service, answer 202."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imports.parsing import csv_query_options, parse_bulk_import, parse_csv_options
from imports.representation import import_accepted
from imports.services import bulk_import_start, csv_import_start
from imports.upload_stream import check_length, raw_pieces, read_multipart
from jobs.models import Job
from pcf.auth import tenant_of
from pcf.exceptions import UnsupportedMediaType
from pcf.parsers import PcfJSONParser

CSV_TYPES = {"text/csv", "application/csv", "text/plain"}


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
        query_options = csv_query_options(request.query_params)

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
        return Response(import_accepted(job, total), status=202)


class BulkImportView(APIView):
    """POST /v1/bulk/resources: the cookbook's JSON bulk import."""

    parser_classes = [PcfJSONParser]

    @extend_schema(request=dict, responses={202: dict})
    def post(self, request: Request) -> Response:
        tenant = tenant_of(request)
        job = bulk_import_start(tenant=tenant, request=parse_bulk_import(request.data))
        return Response(import_accepted(job, job.total), status=202)
