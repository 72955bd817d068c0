"""REST faces of update-by-query and delete-by-filter: parse, call the service, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.representation import job_accepted
from pcf.auth import tenant_of
from resources.bulk.parsing import parse_bulk_delete, parse_bulk_update
from resources.bulk.services import bulk_delete, bulk_update


class BulkUpdateView(APIView):
    @extend_schema(request=dict, responses={200: dict, 202: dict})
    def post(self, request: Request) -> Response:
        result = bulk_update(tenant=tenant_of(request), request=parse_bulk_update(request.data))
        if result.job is not None:
            return Response(job_accepted(result.job), status=202)
        body: dict[str, object] = {
            "updated_count": result.updated_count,
            "duration_ms": result.duration_ms,
            "details": {
                "successful": result.updated_count,
                "failed": result.failed,
                "skipped": result.skipped,
            },
        }
        if result.dry_run:
            body["matched_count"] = result.matched_count
        if result.failures:
            body["errors"] = [
                {"id": f.id, "code": "VALIDATION_ERROR", "field": "metadata", "message": f.message}
                for f in result.failures
            ]
        return Response(body)


class BulkDeleteView(APIView):
    @extend_schema(request=dict, responses={200: dict, 202: dict})
    def post(self, request: Request) -> Response:
        result = bulk_delete(tenant=tenant_of(request), request=parse_bulk_delete(request.data))
        if result.job is not None:
            return Response(job_accepted(result.job), status=202)
        body: dict[str, object] = {
            "deleted_count": len(result.deleted_ids),
            "deleted_ids": result.deleted_ids,
            "duration_ms": result.duration_ms,
        }
        if result.dry_run:
            body["matched_count"] = result.matched_count
        return Response(body)
